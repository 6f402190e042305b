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


def require_list(rec: dict[str, Any], key: str) -> list[Any]:
    """`rec[key]` when it is a list; RecordError naming the key when missing or of another type."""
    if key not in rec:
        raise RecordError("input.missing_field", f"the record has no {key!r}", field=key)
    if not isinstance(rec[key], list):
        raise RecordError("input.wrong_type", f"must be a list, got {kind_of(rec[key])}", field=key)
    return rec[key]


def require_str(value: Any, path: str) -> str:
    """`value` when it is a string; RecordError naming `path` otherwise."""
    if not isinstance(value, str):
        raise RecordError("input.wrong_type", f"must be a string, got {kind_of(value)}", field=path)
    return value


def optional_str(rec: dict[str, Any], key: str) -> str | None:
    """`rec[key]` as a string, or None when the key is absent."""
    return require_str(rec[key], key) if key in rec else None


def kind_of(value: Any) -> str:
    """What a JSON value is, for error messages: "an object", "a list", "null" ..."""
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        type(None): "null",
    }
    return names.get(type(value), "a number" if isinstance(value, float) else f"a {type(value).__name__}")
