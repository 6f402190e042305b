"""Pydantic models: samples, verdicts and configs. No I/O here."""

from synthgate.schemas.sample import Message, Sample, SampleMetadata, content_hash
from synthgate.schemas.verdict import SetFinding, Span, Verdict, record_status

__all__ = [
    "Message",
    "Sample",
    "SampleMetadata",
    "SetFinding",
    "Span",
    "Verdict",
    "content_hash",
    "record_status",
]
