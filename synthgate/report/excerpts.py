"""Which text a verdict's span points into, and a masked window of it around the span.

One definition shared by the terminal renderer (cli/render.py) and the HTML report.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict
from synthgate.validators.preference import REJECTED_PREFIX
from synthgate.validators.secrets import mask_secrets

CONTEXT_CHARS = 80
MAX_HIT_CHARS = 300


@dataclass(frozen=True)
class Excerpt:
    """`before` + `hit` + `after` is a window of the field's masked text; `hit` is the span (cut at
    MAX_HIT_CHARS, `more` characters of it not shown); `cut_left`/`cut_right`: the field goes on."""

    before: str
    hit: str
    after: str
    more: int
    cut_left: bool
    cut_right: bool


def span_text(sample: Sample, v: Verdict) -> str | None:
    """The stored text `v.span` indexes (before repairs when `sample` is the original), or None.

    >>> from synthgate.validators.codes import verdict
    >>> from synthgate.schemas.verdict import Span
    >>> s = Sample(prompt=[{"role": "user", "content": "Hi"}], completion="Hello")
    >>> span_text(s, verdict("loop", "loop.repeated_line", "m", span=Span(start=0, end=2)))
    'Hello'
    """
    if v.span is None:
        return None
    field = v.span.field
    if field == "completion" and v.validator.startswith(REJECTED_PREFIX):
        return sample.metadata.extra.get("preference", {}).get("rejected", "")
    if field == "completion":
        return sample.completion
    if field == "system_prompt":
        return sample.system_prompt or ""
    if field == "reasoning":
        return sample.reasoning or ""
    if field == "prompt":
        users = [m.content for m in sample.prompt if m.role == "user"]
        return users[-1] if users else ""
    return None


def excerpt(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> Excerpt:
    """A masked window of `text` around [start, end); masking keeps lengths, so offsets still hold.

    >>> excerpt("key sk-" + "a" * 40 + " end", 0, 3).hit
    'key'
    """
    text = mask_secrets(text)
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    end = max(start, end)
    a, b = max(0, start - context), min(len(text), end + context)
    shown_end = min(end, start + MAX_HIT_CHARS)
    return Excerpt(
        before=text[a:start],
        hit=text[start:shown_end],
        after=text[end:b],
        more=end - shown_end,
        cut_left=a > 0,
        cut_right=b < len(text),
    )
