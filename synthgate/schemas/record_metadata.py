"""Record keys beside the conversation -> `SampleMetadata`, task type and reasoning, and back.

Records name these keys many ways (`task`, `category`, a nested `metadata` object, integer
chunk ids); the mapping is shared by every format, preference pairs included.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from synthgate.schemas.record_errors import RecordError, kind_of, require_str
from synthgate.schemas.sample import Sample, SampleMetadata

_TASK_KEYS = ("task_type", "task", "type", "category")
REASONING_KEYS = ("reasoning", "reasoning_content")
_META_FIELDS = tuple(f for f in SampleMetadata.model_fields if f != "extra")
METADATA_KEYS = ("id", *_TASK_KEYS, *REASONING_KEYS, *_META_FIELDS, "metadata")


def parse_metadata(
    rec: dict[str, Any], kept: list[str], reasoning_field: str | None = None, task_field: str | None = None
) -> tuple[str | None, str | None, SampleMetadata]:
    """A record's task type, reasoning and metadata: the `metadata` object plus the `kept` top-level keys."""
    md: dict[str, Any] = {}
    origin: dict[str, str] = {}
    extra: dict[str, Any] = {}
    task_types: list[tuple[str, Any]] = []
    nested = rec.get("metadata", {})
    if not isinstance(nested, dict):
        raise RecordError("input.wrong_type", f"must be an object, got {kind_of(nested)}", field="metadata")
    for key, value in nested.items():
        if value is None:
            continue
        if key in _META_FIELDS:
            md[key], origin[key] = value, f"metadata.{key}"
        elif key in _TASK_KEYS:
            task_types.append((f"metadata.{key}", value))
        elif key == "extra" and isinstance(value, dict):
            extra.update(value)
        else:
            extra[key] = value
    for key in _META_FIELDS:  # top-level keys win over the nested metadata object
        if key in rec:
            md[key], origin[key] = rec[key], key
    # The named task field wins over the usual names, which then stay visible in extra.
    task_keys = (task_field, *(k for k in _TASK_KEYS if k != task_field)) if task_field else _TASK_KEYS
    task_types = [(k, rec[k]) for k in task_keys if k in rec] + task_types
    task_type = None
    if task_types:
        path, task_type = task_types[0]
        require_str(task_type, path)
        extra.update((p, v) for p, v in task_types[1:] if "." not in p and p in _TASK_KEYS)
    # The named field wins over the usual names; a record without it may still use those.
    reasoning_keys = (*((reasoning_field,) if reasoning_field else ()), *REASONING_KEYS)
    reasoning_key = next((k for k in reasoning_keys if k in rec), None)
    reasoning = require_str(rec[reasoning_key], reasoning_key) if reasoning_key else None
    if "id" in rec:
        if isinstance(rec["id"], bool) or not isinstance(rec["id"], str | int):
            raise RecordError(
                "input.wrong_type", f"must be a string or integer, got {kind_of(rec['id'])}", field="id"
            )
        extra["input_id"] = rec["id"]
    extra.update((k, rec[k]) for k in kept if k != "input_id" or "id" not in rec)
    if isinstance(md.get("source_ids"), list):  # integer chunk ids are common; keep them as strings
        md["source_ids"] = [
            str(s) if isinstance(s, int) and not isinstance(s, bool) else s for s in md["source_ids"]
        ]
    try:
        metadata = SampleMetadata.model_validate({**md, "extra": extra})
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        path = origin.get(loc[0], loc[0]) + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
        raise RecordError("input.wrong_type", first["msg"], field=path) from None
    return task_type, reasoning, metadata


def flat_metadata(sample: Sample) -> dict[str, Any]:
    """A sample's id, task type, reasoning and metadata as top-level record keys (undoes parse_metadata)."""
    out: dict[str, Any] = {}
    extra = dict(sample.metadata.extra)
    if "input_id" in extra:
        out["id"] = extra.pop("input_id")
    if sample.task_type is not None:
        out["task_type"] = sample.task_type
    if sample.reasoning is not None:
        out["reasoning"] = sample.reasoning
    nested = sample.metadata.model_dump(exclude_defaults=True, exclude={"extra"})
    nested.update(extra)
    if nested:
        out["metadata"] = nested
    return out
