"""`RecordError` and the type checks on a record's values that raise it.

Every record adapter (the four formats, preference pairs) reports an unusable record the same
way: an `input.*` code, the dotted path of the field, and a message naming what was found.
"""

from __future__ import annotations

from typing import Any


class RecordError(Exception):
    """One record cannot be adapted: an `input.*` reason code, the dotted field path, a message."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.field = field
        self.message = message


def _list(rec: dict[str, Any], key: str) -> list[Any]:
    if key not in rec:
        raise RecordError("input.missing_field", f"the record has no {key!r}", field=key)
    if not isinstance(rec[key], list):
        raise RecordError("input.wrong_type", f"must be a list, got {_kind(rec[key])}", field=key)
    return rec[key]


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise RecordError("input.wrong_type", f"must be a string, got {_kind(value)}", field=path)
    return value


def _optional_str(rec: dict[str, Any], key: str) -> str | None:
    return _str(rec[key], key) if key in rec else None


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        type(None): "null",
    }
    return names.get(type(value), "a number" if isinstance(value, float) else f"a {type(value).__name__}")
