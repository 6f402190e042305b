"""Format rules: prose-only task types get no markdown headers or lists; JSON task types must parse
and satisfy their JSON Schema.

Markdown is matched line by line with anchored, precompiled regexes after cheap substring
prefilters; fenced code blocks are skipped, so a `# comment` inside a fence is never a header.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from synthgate.errors import ConfigError
from synthgate.schemas.chain_config import FormatConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict
from synthgate.validators.text import fenced_ranges

# Every line pattern starts with a literal "\n" and runs on "\n" + text: the regex engine then
# jumps from newline to newline instead of trying each position (re.M "^" is ~30x slower here),
# and a match's start is exactly the line's start offset in the original text.
# ATX header: 1-6 '#' then a space or end of line, so "#hashtag" and "C# code" stay prose.
_ATX = re.compile(r"\n {0,3}#{1,6}(?:[ \t][^\n]*)?(?=\n|\Z)")
# Setext underline (=== or ---) under a paragraph line; the paragraph line is checked in code.
_SETEXT = re.compile(r"\n {0,3}(?:={2,}|-{2,})[ \t\r]*(?=\n|\Z)")
_ITEM = re.compile(r"\n[ \t]*(?:[-*+•‣◦▪●–]|\d{1,3}[.)])[ \t]+\S[^\n]*")
_THEMATIC_BREAK = re.compile(r"\n[ \t]*(?:[-*_][ \t]*){3,}\r?\Z")
_JSON_FENCE = re.compile(r"\A\s*```[ \t]*(?:json)?[ \t]*\n(.*?)\n?[ \t]*```\s*\Z", re.S | re.I)


class FormatValidator(Validator):
    """Prose rules for `prose_task_types`; JSON + JSON Schema for `json_schemas` task types."""

    name = "format"

    def __init__(self, config: FormatConfig | None = None) -> None:
        self.config = config or FormatConfig()
        self._prose = frozenset(self.config.prose_task_types)
        self._schemas: dict[str, Draft202012Validator] = {}
        for task_type, schema in self.config.json_schemas.items():
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as err:
                raise ConfigError(
                    f"format.json_schemas[{task_type!r}] is not a valid JSON Schema: {err.message}",
                    hint="Fix the schema (Draft 2020-12) in the chain config.",
                ) from None
            self._schemas[task_type] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )

    def check(self, sample: Sample) -> Result:
        task_type = sample.task_type
        if task_type is None:
            return Result(sample)
        found: list[Verdict] = []
        if task_type in self._prose:
            found += self._prose_verdicts(sample.completion, task_type)
        schema = self._schemas.get(task_type)
        if schema is not None:
            found += self._json_verdicts(sample.completion, task_type, schema)
        return Result(sample, found)

    def _prose_verdicts(self, text: str, task_type: str) -> list[Verdict]:
        fences = fenced_ranges(text)
        lined = "\n" + text
        found: list[Verdict] = []
        headers = _header_lines(text, lined, fences)
        if headers:
            a, b = headers[0]
            found.append(
                verdict(
                    self.name,
                    "format.markdown_header",
                    f"{len(headers)} markdown header line(s) in a {task_type!r} completion, first: "
                    f"{text[a:b]!r}; {task_type} answers must be prose",
                    span=Span(start=a, end=b),
                )
            )
        items = _list_lines(lined, fences)
        if len(items) >= self.config.min_bullets:
            a, b = items[0]
            found.append(
                verdict(
                    self.name,
                    "format.markdown_bullets",
                    f"{len(items)} list lines in a {task_type!r} completion (limit "
                    f"{self.config.min_bullets - 1}), first: {text[a:b]!r}; write the points as prose",
                    span=Span(start=a, end=b),
                )
            )
        return found

    def _json_verdicts(self, text: str, task_type: str, schema: Draft202012Validator) -> list[Verdict]:
        fenced = _JSON_FENCE.match(text)
        start, end = fenced.span(1) if fenced else (0, len(text))
        try:
            data: Any = json.loads(text[start:end])
        except json.JSONDecodeError as err:
            at = min(start + err.pos, len(text))
            line = text.count("\n", 0, at) + 1
            return [
                verdict(
                    self.name,
                    "schema.invalid_json",
                    f"a {task_type!r} completion must be JSON but does not parse: {err.msg} "
                    f"(line {line}, character {at})",
                    span=Span(start=at, end=min(at + 1, len(text))),
                )
            ]
        span = Span(start=start, end=end)
        return [
            verdict(
                self.name,
                "schema.violation",
                f"{err.json_path}: {err.message} (JSON Schema for {task_type!r})",
                span=span,
            )
            for err in sorted(schema.iter_errors(data), key=lambda e: (e.json_path, e.message))
        ]


def _outside(pos: int, fences: list[tuple[int, int]]) -> bool:
    return not any(a <= pos < b for a, b in fences)


def _line_spans(pattern: re.Pattern[str], lined: str, fences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # On lined = "\n" + text, a match [s, e) is the line [s, e - 1) of text.
    return [(m.start(), m.end() - 1) for m in pattern.finditer(lined) if _outside(m.start(), fences)]


def _header_lines(text: str, lined: str, fences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    found = _line_spans(_ATX, lined, fences) if "#" in text else []
    if ("=" in text and "==" in text) or ("-" in text and "--" in text):
        for a, b in _line_spans(_SETEXT, lined, fences):
            if a == 0:
                continue
            above = text.rfind("\n", 0, a - 1) + 1
            prev = lined[above:a]  # "\n" + the line above the underline
            # Only a paragraph line above makes an underline a header (not a list item or a rule).
            if prev.strip() and not _ITEM.match(prev) and not _ATX.match(prev):
                found.append((above, b))
    return sorted(found)


def _list_lines(lined: str, fences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [
        (a, b) for a, b in _line_spans(_ITEM, lined, fences) if not _THEMATIC_BREAK.match(lined, a, b + 1)
    ]
