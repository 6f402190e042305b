"""Builders for store tests: small real samples, verdicts and datasets."""

from __future__ import annotations

from synthgate.schemas.sample import Message, Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.store import SampleRow, Store


def make_sample(completion: str = "Paris is the capital of France.", **fields) -> Sample:
    fields.setdefault("prompt", [Message(role="user", content="What is the capital of France?")])
    return Sample(completion=completion, **fields)


def make_row(index: int, completion: str | None = None, **fields) -> SampleRow:
    sample = make_sample(completion or f"Answer number {index}.", **fields)
    return SampleRow(index=index, input_id=f"in-{index}", sample=sample, original=None, raw=None)


def new_dataset(store: Store, name: str = "demo.jsonl", **overrides) -> str:
    args = dict(
        name=name,
        source_path=f"/data/{name}",
        source_sha256="ab" * 32,
        fmt="auto",
        options={"skip_invalid": False},
        chain_config={"order": ["thinking", "leakage"]},
    )
    args.update(overrides)
    return store.datasets.create(**args)


def fail(code: str, severity: str = "block", span: Span | None = None) -> Verdict:
    return Verdict(
        validator=code.split(".")[0],
        status="fail",
        severity=severity,
        code=code,
        message=f"found {code}",
        span=span,
    )


def fixed(code: str) -> Verdict:
    return Verdict(validator=code.split(".")[0], status="fixed", code=code, message=f"repaired {code}")
