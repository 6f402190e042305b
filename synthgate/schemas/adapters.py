"""Record dicts in the common fine-tuning formats -> `Sample`, and back. Pure: no I/O.

Formats: OpenAI `messages`, TRL `prompt`/`completion` (conversational or plain strings),
Alpaca `instruction`/`input`/`output`, ShareGPT `conversations`. Keys whose value is None count
as absent, because Parquet and `datasets` rows carry every column of the file. Preference pairs
(`prompt`/`chosen`/`rejected`) are detected here and adapted by synthgate.schemas.preference.

>>> s = to_sample({"instruction": "Add 2 and 2.", "input": "", "output": "4"}, "alpaca")
>>> (s.prompt[0].content, s.completion)
('Add 2 and 2.', '4')
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from synthgate.schemas.sample import Sample, SampleMetadata

FORMATS = ("messages", "prompt-completion", "alpaca", "sharegpt")
PREFERENCE = "preference"  # prompt/chosen/rejected pairs: two samples per record, see schemas.preference

# Keys that make a record look like a format, checked in this order by detect_format.
_SIGNATURES = {
    PREFERENCE: ("chosen", "rejected"),
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "prompt-completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"),
}
_FORMAT_KEYS = {
    "messages": ("messages", "tools"),
    "prompt-completion": ("prompt", "completion"),
    "alpaca": ("instruction", "input", "output", "system", "history"),
    "sharegpt": ("conversations", "system", "tools"),
}
_TASK_KEYS = ("task_type", "task", "category")
_REASONING_KEYS = ("reasoning", "reasoning_content")
_META_FIELDS = tuple(f for f in SampleMetadata.model_fields if f != "extra")
METADATA_KEYS = ("id", *_TASK_KEYS, *_REASONING_KEYS, *_META_FIELDS, "metadata")

_MESSAGE_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_MESSAGE_ROLES |= {"tool": "tool", "function": "tool"}
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant"}
# function_call is the assistant calling a tool (trained on); observation is the tool's answer.
_SHAREGPT_ROLES |= {"assistant": "assistant", "function_call": "assistant"}
_SHAREGPT_ROLES |= {"tool": "tool", "observation": "tool", "function": "tool"}


class RecordError(Exception):
    """One record cannot be adapted: an `input.*` reason code, the dotted field path, a message."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.field = field
        self.message = message


def accepted_keys(fmt: str) -> tuple[str, ...]:
    """Top-level keys a record of `fmt` may carry: the format's own, then known metadata."""
    return _FORMAT_KEYS[_check_fmt(fmt)] + METADATA_KEYS


def detect_format(record: dict[str, Any]) -> str:
    """The format whose defining keys the record carries (`preference` for chosen/rejected pairs).

    >>> detect_format({"prompt": "Hi?", "completion": "Hello."})
    'prompt-completion'
    >>> detect_format({"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."})
    'preference'
    """
    if not isinstance(record, dict):
        raise RecordError("input.wrong_type", f"a record must be a JSON object, got {_kind(record)}")
    present = {k for k, v in record.items() if v is not None}
    for fmt, keys in _SIGNATURES.items():
        if present & set(keys):
            return fmt
    needs = "; ".join(f"{fmt} needs {' and '.join(map(repr, keys))}" for fmt, keys in _SIGNATURES.items())
    raise RecordError(
        "input.missing_field",
        f"no record format fits the keys {sorted(present)}: {needs}",
    )


def to_sample(
    record: dict[str, Any],
    fmt: str,
    *,
    instruction_as_system: bool = False,
    system_prompt: str | None = None,
    allow_extra_fields: bool = False,
    reasoning_field: str | None = None,
) -> Sample:
    """Adapt one record of format `fmt` (see FORMATS) to a Sample; raise RecordError when it cannot be.

    `system_prompt` is applied to records that carry none. Unknown top-level keys are an
    `input.unknown_field` error unless `allow_extra_fields`, which keeps them in metadata.extra.
    `reasoning_field` names the key holding reasoning kept apart from the answer (on the record or
    on the final assistant message), besides the usual `reasoning`/`reasoning_content`.

    >>> to_sample({"prompt": "2+2?", "completion": "4", "thoughts": "add"}, "prompt-completion",
    ...           reasoning_field="thoughts").reasoning
    'add'
    """
    if fmt == PREFERENCE:
        raise ValueError(
            "a preference record holds two samples: use schemas.preference.to_preference_samples"
        )
    _check_fmt(fmt)
    if not isinstance(record, dict):
        raise RecordError("input.wrong_type", f"a record must be a JSON object, got {_kind(record)}")
    rec = {k: v for k, v in record.items() if v is not None}
    unknown = unknown_keys(rec, accepted_keys(fmt), fmt, allow_extra_fields, reasoning_field)
    message = _message_parser(reasoning_field)
    if fmt == "messages":
        turns = _turns(_list(rec, "messages"), "messages", message)
    elif fmt == "sharegpt":
        turns = _turns(_list(rec, "conversations"), "conversations", _sharegpt_turn)
        turns = _with_system(_optional_str(rec, "system"), turns)
    elif fmt == "prompt-completion":
        turns = _prompt_completion(rec, message)
    else:
        turns = _alpaca(rec, instruction_as_system)
    system, prompt, completion, turn_reasoning = _split(turns, _ROOTS[fmt])
    # Tool definitions have no place in Sample's training text; keep them beside it for export.
    kept = unknown + (["tools"] if "tools" in rec else [])
    task_type, reasoning, metadata = _metadata(rec, kept, reasoning_field)
    return Sample.model_validate(
        {
            "system_prompt": system or system_prompt or None,
            "prompt": prompt,
            "completion": completion,
            "reasoning": reasoning or turn_reasoning or None,
            "task_type": task_type,
            "metadata": metadata,
        }
    )


def from_sample(sample: Sample, fmt: str, *, include_metadata: bool = False) -> dict[str, Any]:
    """A record of format `fmt` holding the sample's conversation (TRL: the conversational form).

    With `include_metadata`, task type, reasoning, metadata and the input's own id come along, so
    `to_sample(from_sample(s, fmt, include_metadata=True), fmt)` gives `s` back.

    >>> from synthgate.schemas.sample import Message
    >>> s = Sample(prompt=[Message(role="user", content="Hi?")], completion="Hello.")
    >>> from_sample(s, "prompt-completion")["completion"]
    [{'role': 'assistant', 'content': 'Hello.'}]
    """
    msgs = sample.messages()
    if _check_fmt(fmt) == "messages":
        out: dict[str, Any] = {"messages": msgs}
    elif fmt == "prompt-completion":
        out = {"prompt": msgs[:-1], "completion": msgs[-1:]}
    elif fmt == "sharegpt":
        names = {"user": "human", "assistant": "gpt", "tool": "observation"}
        conv = [{"from": names[m.role], "value": m.content} for m in sample.prompt]
        out = {"conversations": [*conv, {"from": "gpt", "value": sample.completion}]}
        if sample.system_prompt:
            out["system"] = sample.system_prompt
    else:
        out = _to_alpaca(sample)
    if include_metadata:
        out.update(_metadata_keys(sample))
    return out


def unknown_keys(
    rec: dict[str, Any],
    accepted: tuple[str, ...],
    fmt: str,
    allow_extra_fields: bool,
    reasoning_field: str | None = None,
) -> list[str]:
    """The record's keys not in `accepted`; RecordError (`input.unknown_field`) unless allowed."""
    known = _key_set(accepted)
    unknown = [k for k in rec if k not in known and k != reasoning_field]
    if unknown and not allow_extra_fields:
        raise RecordError(
            "input.unknown_field",
            f"unknown field(s) {', '.join(map(repr, unknown))} for the {fmt} format; accepted: "
            f"{', '.join(accepted)}. Pass allow_extra_fields (--allow-extra-fields) to keep "
            "them.",
            field=unknown[0],
        )
    return unknown


# --- conversations ------------------------------------------------------------------------

# One turn: (role, content, reasoning carried on the turn, path of its role for errors).
_Turn = tuple[str, str, str | None, str]


def _turns(items: list[Any], name: str, parse: Any) -> list[_Turn]:
    return [parse(item, f"{name}[{i}]") for i, item in enumerate(items)]


def _message_parser(reasoning_field: str | None) -> Any:
    if reasoning_field is None or reasoning_field in _REASONING_KEYS:
        return _message
    return lambda m, path: _message(m, path, (reasoning_field, *_REASONING_KEYS))


def _message(
    m: Any, path: str, reasoning_keys: tuple[str, ...] = ("reasoning_content", "reasoning")
) -> _Turn:
    if not isinstance(m, dict):
        raise RecordError("input.wrong_type", f"a message must be an object, got {_kind(m)}", field=path)
    role = _role(m.get("role"), f"{path}.role", _MESSAGE_ROLES)
    content = m.get("content")
    if content is None:
        if m.get("tool_calls") or m.get("function_call"):
            msg = "the message holds tool calls but no content; tool-call turns are not supported"
            raise RecordError("input.wrong_type", msg, field=f"{path}.content")
        raise RecordError("input.missing_field", "the message has no 'content'", field=f"{path}.content")
    reasoning = next((m[k] for k in reasoning_keys if m.get(k)), None)
    reasoning = reasoning if isinstance(reasoning, str) else None
    return role, _content(content, f"{path}.content"), reasoning, f"{path}.role"


def _sharegpt_turn(t: Any, path: str) -> _Turn:
    if not isinstance(t, dict):
        raise RecordError("input.wrong_type", f"a turn must be an object, got {_kind(t)}", field=path)
    # Some ShareGPT exports spell turns the OpenAI way ({role, content}); accept both spellings.
    role_key, text_key = ("from", "value") if t.get("from") is not None else ("role", "content")
    if t.get(role_key) is None:
        raise RecordError("input.missing_field", "the turn has no 'from'", field=f"{path}.from")
    role = _role(t[role_key], f"{path}.{role_key}", _SHAREGPT_ROLES)
    if t.get(text_key) is None:
        raise RecordError("input.missing_field", f"the turn has no '{text_key}'", field=f"{path}.{text_key}")
    return role, _str(t[text_key], f"{path}.{text_key}"), None, f"{path}.{role_key}"


def _role(value: Any, path: str, known: dict[str, str]) -> str:
    if value is None:
        raise RecordError("input.missing_field", "the turn has no role", field=path)
    if not isinstance(value, str):
        raise RecordError("input.wrong_type", f"a role must be a string, got {_kind(value)}", field=path)
    if value not in known:
        msg = f"unknown role {value!r}; expected one of {', '.join(known)}"
        raise RecordError("input.malformed", msg, field=path)
    return known[value]


def _content(content: Any, path: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        msg = f"content must be a string or a list of text parts, got {_kind(content)}"
        raise RecordError("input.wrong_type", msg, field=path)
    texts = []
    for j, part in enumerate(content):
        where = f"{path}[{j}]"
        if not isinstance(part, dict) or part.get("type") != "text":
            got = part.get("type") if isinstance(part, dict) else _kind(part)
            msg = f"only text parts ({{'type': 'text', 'text': ...}}) are supported, got {got!r}"
            raise RecordError("input.wrong_type", msg, field=where)
        texts.append(_str(part.get("text"), f"{where}.text"))
    return "".join(texts)


def _with_system(system: str | None, turns: list[_Turn]) -> list[_Turn]:
    return [("system", system, None, "system"), *turns] if system else turns


def _split(turns: list[_Turn], root: str) -> tuple[str | None, list[dict[str, str]], str, str | None]:
    """Leading system turns -> system prompt; last turn -> completion (must be the assistant's)."""
    n_system = 0
    while n_system < len(turns) and turns[n_system][0] == "system":
        n_system += 1
    system = "\n\n".join(t[1] for t in turns[:n_system] if t[1]) or None
    rest = turns[n_system:]
    for role, _, _, path in rest:
        if role == "system":
            msg = "a system turn may only open the conversation"
            raise RecordError("input.malformed", msg, field=path)
    if not rest:
        raise RecordError("input.no_completion", "the conversation has no assistant turn", field=root)
    role, completion, reasoning, path = rest[-1]
    if role != "assistant":
        msg = f"the last turn is the {role}'s; it must be the assistant's answer to train on"
        raise RecordError("input.no_completion", msg, field=path)
    prompt = [{"role": r, "content": c} for r, c, _, _ in rest[:-1]]
    if not any(m["role"] == "user" for m in prompt):
        raise RecordError("input.missing_field", "no user turn before the completion", field=root)
    return system, prompt, completion, reasoning


_ROOTS = {
    "messages": "messages",
    "sharegpt": "conversations",
    "prompt-completion": "prompt",
    "alpaca": "input",
}


# --- prompt/completion and alpaca ---------------------------------------------------------


def _prompt_completion(rec: dict[str, Any], message: Any = None) -> list[_Turn]:
    message = message or _message
    if "prompt" not in rec:
        raise RecordError("input.missing_field", "the record has no 'prompt'", field="prompt")
    if "completion" not in rec:
        raise RecordError("input.no_completion", "the record has no 'completion'", field="completion")
    prompt, completion = rec["prompt"], rec["completion"]
    if isinstance(prompt, str) and isinstance(completion, str):
        if not prompt:
            raise RecordError("input.missing_field", "the prompt is empty", field="prompt")
        return [("user", prompt, None, "prompt"), ("assistant", completion, None, "completion")]
    if isinstance(prompt, list) and isinstance(completion, list):
        answer = _turns(completion, "completion", message)
        if len(answer) != 1:
            msg = f"a conversational completion holds exactly one assistant message, got {len(answer)}"
            raise RecordError(
                "input.no_completion" if not answer else "input.malformed", msg, field="completion"
            )
        return _turns(prompt, "prompt", message) + answer
    for name, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str | list):
            msg = f"must be a string or a list of messages, got {_kind(value)}"
            raise RecordError("input.wrong_type", msg, field=name)
    msg = (
        f"prompt is {_kind(prompt)} but completion is {_kind(completion)}; use two strings (plain) "
        "or two lists of messages (conversational)"
    )
    raise RecordError("input.wrong_type", msg, field="completion")


def _alpaca(rec: dict[str, Any], instruction_as_system: bool) -> list[_Turn]:
    if "instruction" not in rec:
        raise RecordError("input.missing_field", "the record has no 'instruction'", field="instruction")
    if "output" not in rec:
        raise RecordError("input.no_completion", "the record has no 'output'", field="output")
    instruction = _str(rec["instruction"], "instruction")
    user_input = _optional_str(rec, "input") or ""
    output = _str(rec["output"], "output")
    system = _optional_str(rec, "system")
    if instruction_as_system:
        system = "\n\n".join(s for s in (system, instruction) if s)
        user = user_input
        if not user:
            msg = "'input' is empty; with instruction_as_system the input is the user turn"
            raise RecordError("input.missing_field", msg, field="input")
    else:
        user = "\n\n".join(s for s in (instruction, user_input) if s)
        if not user:
            raise RecordError(
                "input.missing_field", "'instruction' and 'input' are both empty", field="instruction"
            )
    history: list[_Turn] = []
    for i, pair in enumerate(_list(rec, "history") if "history" in rec else []):
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            msg = f"a history entry must be a [question, answer] pair, got {_kind(pair)}"
            raise RecordError("input.wrong_type", msg, field=f"history[{i}]")
        q, a = (_str(pair[k], f"history[{i}][{k}]") for k in (0, 1))
        history += [("user", q, None, f"history[{i}]"), ("assistant", a, None, f"history[{i}]")]
    return _with_system(
        system, [*history, ("user", user, None, "input"), ("assistant", output, None, "output")]
    )


def _to_alpaca(sample: Sample) -> dict[str, Any]:
    turns = [(m.role, m.content) for m in sample.prompt]
    roles = [r for r, _ in turns]
    if len(turns) % 2 == 0 or roles != ["user", "assistant"] * (len(turns) // 2) + ["user"]:
        raise ValueError(
            f"alpaca needs alternating user/assistant turns ending with a user turn, got {roles}"
        )
    out: dict[str, Any] = {"instruction": turns[-1][1], "input": "", "output": sample.completion}
    if sample.system_prompt:
        out["system"] = sample.system_prompt
    if len(turns) > 1:
        out["history"] = [[turns[i][1], turns[i + 1][1]] for i in range(0, len(turns) - 1, 2)]
    return out


# --- metadata -----------------------------------------------------------------------------


def _metadata(
    rec: dict[str, Any], kept: list[str], reasoning_field: str | None = None
) -> tuple[str | None, str | None, SampleMetadata]:
    md: dict[str, Any] = {}
    origin: dict[str, str] = {}
    extra: dict[str, Any] = {}
    task_types: list[tuple[str, Any]] = []
    nested = rec.get("metadata", {})
    if not isinstance(nested, dict):
        raise RecordError("input.wrong_type", f"must be an object, got {_kind(nested)}", field="metadata")
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
    task_types = [(k, rec[k]) for k in _TASK_KEYS if k in rec] + task_types
    task_type = None
    if task_types:
        path, task_type = task_types[0]
        _str(task_type, path)
        extra.update((p, v) for p, v in task_types[1:] if "." not in p)  # other aliases stay visible
    # The named field wins over the usual names; a record without it may still use those.
    reasoning_keys = (*((reasoning_field,) if reasoning_field else ()), *_REASONING_KEYS)
    reasoning_key = next((k for k in reasoning_keys if k in rec), None)
    reasoning = _str(rec[reasoning_key], reasoning_key) if reasoning_key else None
    if "id" in rec:
        if isinstance(rec["id"], bool) or not isinstance(rec["id"], str | int):
            raise RecordError(
                "input.wrong_type", f"must be a string or integer, got {_kind(rec['id'])}", field="id"
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


def _metadata_keys(sample: Sample) -> dict[str, Any]:
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


# --- small helpers ------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _key_set(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(keys)


def _check_fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown record format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


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
