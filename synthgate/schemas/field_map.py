"""A record as a public set or a pipeline wrote it -> a record of one of the adapters' formats. Pure.

The formats in synthgate.schemas.adapters name their fields one way (`prompt`/`completion`,
`instruction`/`input`/`output`, ...). Real files use other common names; `map_record` finds which
shape a record has and renames its fields, so the adapters see a format they know:

| record fields                                 | read as                                        |
|-----------------------------------------------|------------------------------------------------|
| `messages` / `conversations`                  | OpenAI messages / ShareGPT                     |
| `prompt`+`completion`                         | prompt-completion                              |
| `prompt`/`question`/`query`+`response`        | prompt-completion                              |
| `question`+`answer`, `input`+`output`         | prompt-completion                              |
| `instruction`+`output` (+`input`)             | alpaca                                         |
| `instruction`+`response` (+`context`: Dolly)  | alpaca, `context` as the input passage         |
| `chosen`+`rejected` (+`prompt` or `question`) | preference pair                                |
| `text` holding a rendered chat template       | messages, turns parsed (schemas.chat_templates) |

`system` or `system_prompt` is the system prompt. A record two shapes fit is an error naming both,
never a guess; `FieldNames` (the CLI's --prompt-field, --completion-field, --system-field) maps
anything else.

>>> m = map_record({"question": "2+2?", "answer": "4", "level": 1})
>>> (m.fmt, m.record, m.shape)
('prompt-completion', {'prompt': '2+2?', 'completion': '4', 'level': 1}, 'question/answer')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthgate.schemas.adapters import detect_format
from synthgate.schemas.chat_templates import TEMPLATES, parse_chat_template
from synthgate.schemas.record_errors import RecordError

_SYSTEM_NAMES = ("system", "system_prompt")


@dataclass(frozen=True)
class FieldNames:
    """Record fields named by the user; each overrides the common names for its role."""

    prompt: str | None = None
    completion: str | None = None
    system: str | None = None

    def given(self) -> bool:
        return any((self.prompt, self.completion, self.system))


@dataclass(frozen=True)
class MappedRecord:
    """The record in format `fmt`, `renamed` (format key -> the record's own key) for error paths,
    and `shape`, a short label of the fields it was read from (reported in the audit summary)."""

    fmt: str
    record: dict[str, Any]
    shape: str
    renamed: dict[str, str] = field(default_factory=dict)

    def original_field(self, path: str | None) -> str | None:
        """An error path in the mapped record, spelled with the record's own field name."""
        if not path or not self.renamed:
            return path
        root = path.split(".")[0].split("[")[0]
        if root not in self.renamed:
            return path
        if self.shape.startswith("text"):  # turns parsed out of one string have no path of their own
            return self.renamed[root]
        return self.renamed[root] + path[len(root) :]


@dataclass(frozen=True)
class _Shape:
    label: str
    fmt: str
    required: dict[str, str]  # format key -> record key
    optional: dict[str, str] = field(default_factory=dict)


_SYSTEM = {"system": "system"}
_SHAPES = (
    # The adapters' own formats first: a record written for them reads as before.
    _Shape("messages", "messages", {"messages": "messages"}, {"tools": "tools", **_SYSTEM}),
    _Shape("conversations", "sharegpt", {"conversations": "conversations"}, {"tools": "tools", **_SYSTEM}),
    _Shape(
        "prompt/completion", "prompt-completion", {"prompt": "prompt", "completion": "completion"}, _SYSTEM
    ),
    _Shape(
        "instruction/output",
        "alpaca",
        {"instruction": "instruction", "output": "output"},
        {"input": "input", "history": "history", **_SYSTEM},
    ),
    _Shape(
        "chosen/rejected",
        "preference",
        {"chosen": "chosen", "rejected": "rejected"},
        {"prompt": "prompt", **_SYSTEM},
    ),
    # Common names in public sets.
    _Shape("prompt/response", "prompt-completion", {"prompt": "prompt", "completion": "response"}, _SYSTEM),
    _Shape("question/answer", "prompt-completion", {"prompt": "question", "completion": "answer"}, _SYSTEM),
    _Shape(
        "question/response", "prompt-completion", {"prompt": "question", "completion": "response"}, _SYSTEM
    ),
    _Shape("query/response", "prompt-completion", {"prompt": "query", "completion": "response"}, _SYSTEM),
    _Shape("input/output", "prompt-completion", {"prompt": "input", "completion": "output"}, _SYSTEM),
    _Shape(
        "instruction/context/response",
        "alpaca",
        {"instruction": "instruction", "output": "response"},
        {"input": "context", **_SYSTEM},
    ),
    _Shape(
        "question/chosen/rejected",
        "preference",
        {"prompt": "question", "chosen": "chosen", "rejected": "rejected"},
        _SYSTEM,
    ),
)
# Each shape with the set of record keys it needs: one subset test per shape and record.
_NEEDS = [(shape, frozenset(shape.required.values())) for shape in _SHAPES]
_PROMPT_NAMES = ("prompt", "question", "query", "instruction", "input")
_COMPLETION_NAMES = ("completion", "response", "answer", "output")


def map_record(record: Any, names: FieldNames | None = None) -> MappedRecord:
    """Which format `record` is in and the record renamed to it; RecordError when none or two fit.

    >>> map_record({"instruction": "Sum.", "context": "2, 2", "response": "4"}).record
    {'instruction': 'Sum.', 'output': '4', 'input': '2, 2'}
    >>> map_record({"text": "<|im_start|>user\\nHi<|im_end|><|im_start|>assistant\\nHello<|im_end|>"}).record
    {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]}
    """
    if not isinstance(record, dict):
        detect_format(record)  # raises the input.wrong_type error every adapter gives
    names = names or FieldNames()
    rec = {k: v for k, v in record.items() if v is not None} if None in record.values() else record
    if names.prompt or names.completion:
        return _named(rec, names)
    keys = rec.keys()
    fits = []
    for shape, needs in _NEEDS:
        if needs <= keys:
            used = {**shape.required, **{f: k for f, k in shape.optional.items() if k in rec}}
            fits.append((shape, used))
    if len(fits) > 1:
        # A shape whose fields are all part of another's is not a second reading of the record
        # (alpaca's instruction/input/output contains input/output).
        fits = [(s, u) for s, u in fits if not any(set(u.values()) < set(u2.values()) for _, u2 in fits)]
    if len(fits) > 1:
        readings = "; ".join(f"{s.label} ({', '.join(map(repr, u.values()))})" for s, u in fits)
        msg = (
            f"the record fits more than one shape: {readings}. Name the fields with --prompt-field and "
            "--completion-field, or pass --format"
        )
        raise RecordError("input.malformed", msg, field=next(iter(fits[1][1].values())))
    if fits:
        shape, used = fits[0]
        return _renamed(rec, shape.fmt, shape.label, used, names)
    if isinstance(rec.get("text"), str):
        return _text(rec, names)
    # No shape fits: read as the format the record is closest to, so the adapter names what is missing.
    return MappedRecord(detect_format(rec), rec, "unknown")


def _renamed(
    rec: dict[str, Any], fmt: str, label: str, used: dict[str, str], names: FieldNames
) -> MappedRecord:
    used = {f: k for f, k in used.items() if f != "system"}
    system_key = names.system or next((k for k in _SYSTEM_NAMES if k in rec), None)
    if system_key is not None:
        if system_key not in rec:
            msg = f"--system-field {system_key!r} is not in the record (keys: {', '.join(sorted(rec))})"
            raise RecordError("input.missing_field", msg, field=system_key)
        used["system"] = system_key
    if all(f == k for f, k in used.items()):
        return MappedRecord(fmt, rec, label)  # the format's own names: nothing to rename
    taken = set(used.values())
    out = {f: rec[k] for f, k in used.items()}
    for k, v in rec.items():
        if k in taken:
            continue
        if k in out:  # an unused field spelled like a format field (e.g. 'input' beside Dolly's 'context')
            msg = (
                f"{k!r} is not used when the record is read as {label}, but its name is a field of "
                "that format; rename it or name the fields with --prompt-field"
            )
            raise RecordError("input.malformed", msg, field=k)
        out[k] = v
    return MappedRecord(fmt, out, label, {f: k for f, k in used.items() if f != k})


def _named(rec: dict[str, Any], names: FieldNames) -> MappedRecord:
    prompt = names.prompt or next((k for k in _PROMPT_NAMES if k in rec), None)
    completion = names.completion or next((k for k in _COMPLETION_NAMES if k in rec), None)
    for flag, key, role in (
        ("--prompt-field", prompt, "prompt"),
        ("--completion-field", completion, "completion"),
    ):
        if key is None or key not in rec:
            where = f"{flag} {key!r} is not in the record" if key else f"no {role} field found"
            code = "input.no_completion" if role == "completion" else "input.missing_field"
            raise RecordError(code, f"{where} (keys: {', '.join(sorted(rec))})", field=key or role)
    label = f"{prompt}/{completion}"
    return _renamed(rec, "prompt-completion", label, {"prompt": prompt, "completion": completion}, names)


def _text(rec: dict[str, Any], names: FieldNames) -> MappedRecord:
    parsed = parse_chat_template(rec["text"])
    if parsed is None:
        msg = (
            "the record holds only a 'text', and it is not a chat template synthgate reads "
            f"({', '.join(TEMPLATES)}): plain text has no prompt and completion to check. "
            "Name the fields with --prompt-field and --completion-field"
        )
        raise RecordError("input.missing_field", msg, field="text")
    turns = parsed.turns
    if turns and turns[-1] == ("assistant", ""):  # rendered with an open assistant header: no answer
        turns = turns[:-1]
    rest = {k: v for k, v in rec.items() if k != "text"}
    out = {"messages": [{"role": r, "content": c} for r, c in turns], **rest}
    mapped = _renamed(out, "messages", f"text ({parsed.template})", {"messages": "messages"}, names)
    return MappedRecord(mapped.fmt, mapped.record, mapped.shape, {**mapped.renamed, "messages": "text"})
