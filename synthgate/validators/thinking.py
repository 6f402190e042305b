"""Reasoning blocks (`<think>...</think>`, `<thinking>`, `<reasoning>`) in completions.

Modes (`ThinkingConfig.mode`):
- strip (default): every closed block is removed (`think.stripped`, fixed; one verdict per block,
  span = the block in the ORIGINAL completion, tags included), together with the whitespace after
  it, and the result is trimmed. This includes the empty block chat templates insert when
  thinking is off (`<think>\\n\\n</think>\\n\\n`). An opening tag that never closes
  (`think.unclosed`) and a closing tag with no opening one (`think.stray_close`, Qwen3 output
  whose template ate the opening tag) fail; their reasoning text is cut too (from the opening
  tag to the end, or from the start up to the stray tag), so text from inside a reasoning block
  never survives into the repaired completion, even when a chain lowers those codes to warn.
  Nothing left but whitespace: `think.empty_after_strip`. `sample.reasoning` is a separate field
  and is left alone (never merged into the completion).
- forbid: every block, unclosed block or stray closing tag, and a non-blank `sample.reasoning`,
  is `think.forbidden` (span field "reasoning" for the latter). The sample is not changed.
- keep (training reasoning students): the completion must hold exactly one closed block, with
  only whitespace before it and a non-blank answer after it; each broken rule is one
  `think.malformed` verdict whose message names the rule (`think.unclosed` for an unclosed
  block). A completion with no block passes when `sample.reasoning` carries the reasoning.

Tags match case-insensitively, with attributes (`<think time="3s">`), spaces inside the angle
brackets and the self-closing form `<think/>` (an empty block). Nested blocks count as one outer
block; `<think>` may be closed by any configured tag. Tags are also recognised inside code, so a
completion *about* chat templates fails loudly rather than being silently cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from synthgate.schemas.chain_config import ThinkingConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict

SegmentKind = Literal["block", "unclosed", "stray"]


@dataclass(frozen=True)
class Segment:
    """Reasoning text found in a completion: [start, end) offsets, tags included."""

    kind: SegmentKind  # block: open..close; unclosed: open..end of text; stray: start..stray close tag
    start: int
    end: int


def _tag_pattern(tags: list[str]) -> re.Pattern[str] | None:
    if not tags:
        return None
    # Longest first so "thinking" is never read as "think" + attributes.
    names = "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
    return re.compile(
        rf"<\s*(?P<close>/)?\s*(?:{names})(?=[\s/>])[^<>]*?(?P<selfclose>/)?\s*>",
        re.IGNORECASE,
    )


def find_segments(text: str, tag: re.Pattern[str] | None) -> list[Segment]:
    """Closed blocks, unclosed blocks and stray closing tags of `text`, in order.

    >>> pat = _tag_pattern(["think"])
    >>> [(s.kind, s.start, s.end) for s in find_segments("<think>a</think>b", pat)]
    [('block', 0, 16)]
    >>> [(s.kind, s.start, s.end) for s in find_segments("plan</think>\\n\\nAnswer", pat)]
    [('stray', 0, 12)]
    """
    if tag is None or "<" not in text:  # fast path: most completions hold no tag at all
        return []
    segments: list[Segment] = []
    depth = 0
    open_start = 0
    consumed = 0  # end of the last segment: a stray close claims the text after it
    for m in tag.finditer(text):
        if m.group("selfclose") and not m.group("close"):
            if depth == 0:
                segments.append(Segment("block", m.start(), m.end()))
                consumed = m.end()
        elif m.group("close"):
            if depth == 0:
                segments.append(Segment("stray", consumed, m.end()))
                consumed = m.end()
            else:
                depth -= 1
                if depth == 0:
                    segments.append(Segment("block", open_start, m.end()))
                    consumed = m.end()
        else:
            if depth == 0:
                open_start = m.start()
            depth += 1
    if depth:
        segments.append(Segment("unclosed", open_start, len(text)))
    return segments


def _snippet(text: str, limit: int = 40) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


class ThinkingValidator(Validator):
    """Strips, forbids or requires reasoning blocks in the completion (see module docstring)."""

    name: ClassVar[str] = "thinking"

    def __init__(self, config: ThinkingConfig = ThinkingConfig()) -> None:
        self.config = config
        self._tag = _tag_pattern(config.tags)

    def check(self, sample: Sample) -> Result:
        segments = find_segments(sample.completion, self._tag)
        if self.config.mode == "strip":
            return self._strip(sample, segments)
        if self.config.mode == "forbid":
            return Result(sample, self._forbid(sample, segments))
        return Result(sample, self._keep(sample, segments))

    def _v(self, code: str, message: str, span: Span | None = None) -> Verdict:
        return verdict(self.name, code, message, span=span)

    def _strip(self, sample: Sample, segments: list[Segment]) -> Result:
        if not segments:
            return Result(sample)
        text = sample.completion
        verdicts: list[Verdict] = []
        kept: list[str] = []
        pos = 0
        for seg in segments:
            kept.append(text[pos : seg.start])
            span = Span(start=seg.start, end=seg.end)
            if seg.kind == "block":
                removed = _snippet(text[seg.start : seg.end])
                verdicts.append(self._v("think.stripped", f"Removed reasoning block {removed!r}.", span))
            elif seg.kind == "unclosed":
                verdicts.append(
                    self._v(
                        "think.unclosed",
                        f"Reasoning block {_snippet(text[seg.start : seg.end], 20)!r} never closes; "
                        "everything after its opening tag was cut.",
                        span,
                    )
                )
            else:
                verdicts.append(
                    self._v(
                        "think.stray_close",
                        "Closing reasoning tag without an opening one (a chat template probably ate "
                        "it); the text before it is reasoning and was cut.",
                        span,
                    )
                )
            # Drop the whitespace after a removed block so "A <think>x</think> B" reads "A B".
            pos = seg.end
            while pos < len(text) and text[pos].isspace():
                pos += 1
        kept.append(text[pos:])
        repaired = "".join(kept).strip()
        if not repaired:
            verdicts.append(
                self._v(
                    "think.empty_after_strip",
                    "Nothing but reasoning: the completion is empty once reasoning is removed.",
                    Span(start=0, end=len(text)),
                )
            )
        return Result(sample.replace(completion=repaired), verdicts)

    def _forbid(self, sample: Sample, segments: list[Segment]) -> list[Verdict]:
        what = {
            "block": "Reasoning block",
            "unclosed": "Unclosed reasoning block",
            "stray": "Reasoning before a stray closing tag",
        }
        verdicts = [
            self._v(
                "think.forbidden",
                f"{what[seg.kind]} in the completion; this chain forbids reasoning.",
                Span(start=seg.start, end=seg.end),
            )
            for seg in segments
        ]
        if sample.reasoning and sample.reasoning.strip():
            verdicts.append(
                self._v(
                    "think.forbidden",
                    "The sample carries a reasoning field; this chain forbids reasoning.",
                    Span(start=0, end=len(sample.reasoning), field="reasoning"),
                )
            )
        return verdicts

    def _keep(self, sample: Sample, segments: list[Segment]) -> list[Verdict]:
        text = sample.completion
        if not segments:
            if sample.reasoning and sample.reasoning.strip():
                return []  # the reasoning lives in its own field
            return [
                self._v(
                    "think.malformed",
                    "No reasoning block: keep mode requires one <think>...</think> block before the answer.",
                )
            ]
        verdicts: list[Verdict] = []
        for seg in segments:
            span = Span(start=seg.start, end=seg.end)
            if seg.kind == "unclosed":
                verdicts.append(self._v("think.unclosed", "Reasoning block never closes.", span))
            elif seg.kind == "stray":
                verdicts.append(
                    self._v("think.malformed", "Closing reasoning tag without an opening one.", span)
                )
        blocks = [s for s in segments if s.kind == "block"]
        if len(blocks) > 1:
            verdicts.append(
                self._v(
                    "think.malformed",
                    f"{len(blocks)} reasoning blocks; exactly one is allowed.",
                    Span(start=blocks[1].start, end=blocks[-1].end),
                )
            )
        if blocks and text[: blocks[0].start].strip():
            verdicts.append(
                self._v(
                    "think.malformed",
                    "Text before the reasoning block; it must open the completion.",
                    Span(start=0, end=blocks[0].start),
                )
            )
        last = segments[-1]
        if blocks and last.kind != "unclosed" and not text[last.end :].strip():
            verdicts.append(
                self._v(
                    "think.malformed",
                    "No answer after the reasoning block.",
                    Span(start=blocks[-1].start, end=blocks[-1].end),
                )
            )
        return verdicts
