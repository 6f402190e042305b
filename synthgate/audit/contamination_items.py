"""Benchmark files -> the question texts a contamination check looks for in training data.

Any input `read_records` reads (JSONL, JSON, CSV, Parquet, Arrow, compressed or not, a `datasets`
folder, a folder of shards or a glob; a hub folder holding several splits is refused: name the
split's files with a glob). Each item names its own file (shard) and its place there. The question
field is named with `field`, or found per record: the first non-empty of question, prompt,
input, instruction, query, problem, text, then MT-bench `turns` (the turns joined), then the
user turns of `messages`/`conversations`. An Alpaca record's instruction and input are joined,
as the adapters join them into one user turn.

>>> from pathlib import Path
>>> import json, tempfile
>>> path = Path(tempfile.mkdtemp()) / "mt.jsonl"
>>> _ = path.write_text(json.dumps({"question_id": 81, "turns": ["Write a haiku.", "Now a limerick."]}))
>>> load_contamination_items(path)[0].text
'Write a haiku.\\nNow a limerick.'
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from synthgate.audit.inputs import resolve_inputs
from synthgate.audit.readers import read_records
from synthgate.errors import InputError
from synthgate.validators.contamination import ContaminationItem

QUESTION_FIELDS = ("question", "prompt", "input", "instruction", "query", "problem", "text")
_TURN_FIELDS = ("turns", "messages", "conversations")
_USER_ROLES = frozenset({"user", "human"})


def load_contamination_items(path: str | Path, field: str | None = None) -> list[ContaminationItem]:
    """The question of every record in `path`; `field` names the question field, else it is detected.

    Raises InputError naming the file, the record and its keys when a record has no question, or
    when a record cannot be read: an eval set must be complete for a clean audit to mean anything.
    """
    items = []
    # No default split: an eval set's split is the user's choice (a glob of its files).
    inputs = resolve_inputs(path, default_split=None)
    for raw in read_records(inputs):
        if raw.error is not None:
            raise raw.error
        assert raw.data is not None
        shard = str(inputs.shards[raw.shard])
        text = _question(raw.data, field, shard, raw.index)
        items.append(ContaminationItem(raw.row, text, shard))
    return items


def _question(record: dict[str, Any], field: str | None, path: str, index: int) -> str:
    if field is not None:
        text = _text(record.get(field), field, path, index) if field in record else None
        if not text:
            got = "is empty" if field in record else "is missing"
            msg = f"the question field {field!r} {got}; the record's keys are {_keys(record)}"
            raise InputError(msg, path=path, record=index, field=field, code="input.missing_field")
        return text
    if record.get("instruction") and record.get("input"):  # Alpaca: the question is both
        instruction = _text(record["instruction"], "instruction", path, index)
        return f"{instruction}\n\n{_text(record['input'], 'input', path, index)}"
    for name in QUESTION_FIELDS + _TURN_FIELDS:
        text = _text(record.get(name), name, path, index)
        if text:
            return text
    msg = (
        f"no question field found among the keys {_keys(record)}; expected one of "
        f"{', '.join(QUESTION_FIELDS + _TURN_FIELDS)}"
    )
    hint = "Name the field that holds the question (load_contamination_items(path, field=...))."
    raise InputError(msg, path=path, record=index, code="input.missing_field", hint=hint)


def _text(value: Any, name: str, path: str, index: int) -> str | None:
    """A field's question text: a string, a list of turn strings, or the user turns of a conversation."""
    if isinstance(value, str) and name in _TURN_FIELDS and value.lstrip().startswith("["):
        with contextlib.suppress(json.JSONDecodeError):  # CSV keeps list columns as JSON text
            value = json.loads(value)
    if value is None or isinstance(value, str):
        return value.strip() if value else None
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return "\n".join(v.strip() for v in value if v.strip()) or None
        if all(isinstance(v, dict) for v in value):
            turns = [_user_text(v) for v in value]
            return "\n".join(t for t in turns if t) or None
    msg = "must be a string, a list of strings or a list of chat messages to hold a question"
    raise InputError(msg, path=path, record=index, field=name, code="input.wrong_type")


def _user_text(message: dict[str, Any]) -> str | None:
    role = message.get("role", message.get("from"))
    content = message.get("content", message.get("value"))
    return content.strip() if role in _USER_ROLES and isinstance(content, str) else None


def _keys(record: dict[str, Any]) -> str:
    return ", ".join(repr(k) for k in record) or "(none)"
