"""A validator's finding about one sample, or about the whole set."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pass", "fixed", "fail"]
Severity = Literal["block", "warn"]
SpanField = Literal["completion", "prompt", "system_prompt", "reasoning", "record"]


class Span(BaseModel):
    """Character offsets [start, end) into one field of the sample."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(ge=0, description="First character of the offending text.")
    end: int = Field(ge=0, description="One past the last character.")
    field: SpanField = Field(default="completion", description="Which text the offsets index.")


class Ref(BaseModel):
    """A record of another file that a finding points to: an eval item, a validation-split record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="The file, as the audit read it (an eval set's path, a split's).")
    index: int = Field(ge=0, description="The record's 0-based index in that file.")


class Verdict(BaseModel):
    """One finding: which validator, what it decided, why (a closed reason code), and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    validator: str = Field(description="Name of the validator that produced the verdict.")
    status: Status = Field(description="pass, fixed (the sample was repaired) or fail.")
    severity: Severity = Field(default="block", description="block gates the sample; warn reports.")
    code: str = Field(description="Dotted reason code from synthgate.validators.codes.")
    message: str = Field(description="What was found, in words a human can act on.")
    span: Span | None = Field(default=None, description="Where, when the finding has a place.")
    score: float | None = Field(default=None, description="Similarity or strength, when measured.")
    ref: Ref | None = Field(
        default=None,
        description="The other file's record the finding is about (contamination: the eval item).",
    )

    @property
    def blocks(self) -> bool:
        return self.status == "fail" and self.severity == "block"


class SetFinding(BaseModel):
    """A finding about the dataset as a whole (duplicates share, shared system prompt, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="Dotted reason code, `set.` or `dup.` family.")
    severity: Severity = Field(default="warn")
    message: str = Field(description="What was found and what to do about it.")
    count: int = Field(default=0, description="How many records the finding concerns.")
    share: float | None = Field(default=None, description="count / records, when meaningful.")
    details: dict = Field(default_factory=dict, description="Numbers behind the finding.")


# The one definition of a record's status: the first rule a verdict of the record matches, else
# DEFAULT_STATUS. Each rule is (record status, verdict status, verdict severity or None for any).
# `record_status` applies it in Python; the store renders the same rules as SQL
# (store.verdicts.record_status_sql), so both always agree.
STATUS_RULES: tuple[tuple[Status, Status, Severity | None], ...] = (
    ("fail", "fail", "block"),
    ("fixed", "fixed", None),
)
DEFAULT_STATUS: Status = "pass"


def record_status(verdicts: list[Verdict]) -> Status:
    """fail if any verdict blocks, fixed if any repaired the sample, else pass (see STATUS_RULES)."""
    for status, verdict_status, severity in STATUS_RULES:
        if any(v.status == verdict_status and severity in (None, v.severity) for v in verdicts):
            return status
    return DEFAULT_STATUS
