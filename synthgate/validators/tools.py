"""Tool calls in assistant turns: each must be a JSON object with a name and object arguments, name a
tool the record defines, and (when the definition has a JSON Schema) satisfy it.

Calls are read back from the `<tool_call>` blocks the adapters write (see
synthgate.schemas.tool_calls), so a Hermes-style dataset that already holds such blocks as text is
checked the same way. Tool definitions come from the record's `tools` (kept in
`metadata.extra["tools"]`): OpenAI `[{"type": "function", "function": {name, parameters}}]` or the
flat `[{name, parameters}]`, as a list or a JSON string. A record without `tools` gets only the
JSON checks. Texts without "<tool_call>" cost one substring test.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from synthgate.schemas.chain_config import ToolsConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.tool_calls import OPEN, FoundToolCall, find_tool_calls
from synthgate.schemas.verdict import Span, SpanField, Verdict
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict

_MAX_SCHEMAS = 256  # compiled schemas kept; tool sets repeat across records


class ToolsValidator(Validator):
    """Flags malformed calls, non-object arguments, unknown tools and schema violations."""

    name = "tools"

    def __init__(self, config: ToolsConfig | None = None) -> None:
        self.config = config or ToolsConfig()
        self._compiled: dict[str, Draft202012Validator | None] = {}

    def check(self, sample: Sample) -> Result:
        texts: list[tuple[str, SpanField, str]] = [(sample.completion, "completion", "the completion")]
        if self.config.check_prompts:
            texts += [
                (m.content, "prompt", f"prompt turn {i}")
                for i, m in enumerate(sample.prompt)
                if m.role == "assistant"
            ]
        if not any(OPEN in text for text, _, _ in texts):
            return Result(sample)
        tools = _tool_schemas(sample.metadata.extra.get("tools"))
        found: list[Verdict] = []
        for text, field, where in texts:
            fences = _code_ranges(text)
            for call in find_tool_calls(text):
                if not any(a <= call.start < b for a, b in fences):  # a call shown in code is an example
                    found += self._check_call(call, tools, field, where)
        return Result(sample, found)

    def _check_call(
        self, call: FoundToolCall, tools: dict[str, Any] | None, field: SpanField, where: str
    ) -> list[Verdict]:
        if call.error is not None:
            span = Span(start=call.body_start, end=call.body_end, field=field)
            return [verdict(self.name, "tool.malformed_call", f"{call.error} in {where}", span=span)]
        start = call.args_start if call.args_start is not None else call.body_start
        end = call.args_end if call.args_end is not None else call.body_end
        span = Span(start=start, end=end, field=field)
        if not isinstance(call.arguments, dict):
            got = (
                "a string that is not JSON"
                if isinstance(call.arguments, str)
                else type(call.arguments).__name__
            )
            msg = f"the arguments of the call to {call.name!r} in {where} are {got}, not a JSON object"
            return [verdict(self.name, "tool.invalid_arguments", msg, span=span)]
        if tools is None:
            return []
        if call.name not in tools:
            known = ", ".join(sorted(tools)) or "none"
            msg = f"{where} calls {call.name!r}, which the record's tools do not define (defined: {known})"
            name_span = Span(start=call.body_start, end=call.body_end, field=field)
            return [verdict(self.name, "tool.unknown_tool", msg, span=name_span)]
        schema = tools[call.name]
        validator = self._validator(schema) if self.config.schemas and schema is not None else None
        if validator is None:
            return []
        error = next(iter(sorted(validator.iter_errors(call.arguments), key=lambda e: list(e.path))), None)
        if error is None:
            return []
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path) or " (top level)"
        msg = (
            f"the arguments of the call to {call.name!r} in {where} violate its schema at "
            f"arguments{path}: {error.message}"
        )
        return [verdict(self.name, "tool.schema_violation", msg, span=span)]

    def _validator(self, schema: Any) -> Draft202012Validator | None:
        key = json.dumps(schema, sort_keys=True, default=str)
        if key not in self._compiled:
            if len(self._compiled) >= _MAX_SCHEMAS:
                self._compiled.clear()
            try:
                Draft202012Validator.check_schema(schema)
                self._compiled[key] = Draft202012Validator(schema)
            except SchemaError:
                # A definition whose schema is not valid cannot judge arguments; the name check stands.
                self._compiled[key] = None
        return self._compiled[key]


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^ {0,3}\1[ \t]*$|\Z)|`[^`\n]+`", re.S | re.M)


def _code_ranges(text: str) -> list[tuple[int, int]]:
    """[start, end) of fenced code blocks and inline code: docs about tool calling quote calls."""
    if "`" not in text and "~~~" not in text:
        return []
    return [m.span() for m in _FENCE.finditer(text)]


def _tool_schemas(tools: Any) -> dict[str, Any] | None:
    """tool name -> its parameters schema (None when it has none); None when no tools are defined."""
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except (ValueError, RecursionError):
            return None
    if not isinstance(tools, list) or not tools:
        return None
    out: dict[str, Any] = {}
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function", tool)
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out[fn["name"]] = fn.get("parameters")
    return out or None
