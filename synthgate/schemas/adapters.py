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

import json
from functools import lru_cache
from typing import Any

from synthgate.schemas.chat_templates import parse_chat_template
from synthgate.schemas.record_errors import (
    RecordError,
    kind_of,
    optional_str,
    require_list,
    require_str,
)
from synthgate.schemas.record_metadata import METADATA_KEYS, flat_metadata, parse_metadata
from synthgate.schemas.record_turns import (
    Turn,
    message_parser,
    parse_message,
    parse_sharegpt_turn,
    parse_turns,
    split_turns,
    with_system,
)
from synthgate.schemas.sample import Sample

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
    "messages": ("messages", "tools", "system"),
    "prompt-completion": ("prompt", "completion", "system"),
    "alpaca": ("instruction", "input", "output", "system", "history"),
    "sharegpt": ("conversations", "system", "tools"),
}


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
        raise RecordError("input.wrong_type", f"a record must be a JSON object, got {kind_of(record)}")
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
    task_field: str | None = None,
) -> Sample:
    """Adapt one record of format `fmt` (see FORMATS) to a Sample; raise RecordError when it cannot be.

    `system_prompt` is applied to records that carry none. Unknown top-level keys are an
    `input.unknown_field` error unless `allow_extra_fields`, which keeps them in metadata.extra.
    `reasoning_field` names the key holding reasoning kept apart from the answer (on the record or
    on the final assistant message), besides the usual `reasoning`/`reasoning_content`;
    `task_field` the key holding the task type, besides `task_type`, `task`, `type`, `category`.
    A string prompt holding a rendered chat template (schemas.chat_templates) is read as its turns.

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
        raise RecordError("input.wrong_type", f"a record must be a JSON object, got {kind_of(record)}")
    rec = {k: v for k, v in record.items() if v is not None}
    unknown = unknown_keys(rec, accepted_keys(fmt), fmt, allow_extra_fields, reasoning_field, task_field)
    message = message_parser(reasoning_field)
    if "tools" in rec:
        _check_tools(rec["tools"])
    if fmt == "messages":
        turns = parse_turns(require_list(rec, "messages"), "messages", message)
        turns = with_system(optional_str(rec, "system"), turns)
    elif fmt == "sharegpt":
        turns = parse_turns(require_list(rec, "conversations"), "conversations", parse_sharegpt_turn)
        turns = with_system(optional_str(rec, "system"), turns)
    elif fmt == "prompt-completion":
        turns = with_system(optional_str(rec, "system"), _prompt_completion(rec, message))
    else:
        turns = _alpaca(rec, instruction_as_system)
    system, prompt, completion, turn_reasoning = split_turns(turns, _ROOTS[fmt])
    # Tool definitions have no place in Sample's training text; keep them beside it for export.
    kept = unknown + (["tools"] if "tools" in rec else [])
    task_type, reasoning, metadata = parse_metadata(rec, kept, reasoning_field, task_field)
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
        out.update(flat_metadata(sample))
    return out


def unknown_keys(
    rec: dict[str, Any],
    accepted: tuple[str, ...],
    fmt: str,
    allow_extra_fields: bool,
    reasoning_field: str | None = None,
    task_field: str | None = None,
) -> list[str]:
    """The record's keys not in `accepted`; RecordError (`input.unknown_field`) unless allowed."""
    known = _key_set(accepted)
    unknown = [k for k in rec if k not in known and k != reasoning_field and k != task_field]
    if unknown and not allow_extra_fields:
        raise RecordError(
            "input.unknown_field",
            f"unknown field(s) {', '.join(map(repr, unknown))} for the {fmt} format; accepted: "
            f"{', '.join(accepted)}. Drop --strict-fields (allow_extra_fields) to keep them as "
            "metadata.",
            field=unknown[0],
        )
    return unknown


_ROOTS = {
    "messages": "messages",
    "sharegpt": "conversations",
    "prompt-completion": "prompt",
    "alpaca": "input",
}


# --- prompt/completion and alpaca ---------------------------------------------------------


def _prompt_completion(rec: dict[str, Any], message: Any = None) -> list[Turn]:
    message = message or parse_message
    if "prompt" not in rec:
        raise RecordError("input.missing_field", "the record has no 'prompt'", field="prompt")
    if "completion" not in rec:
        raise RecordError("input.no_completion", "the record has no 'completion'", field="completion")
    prompt, completion = rec["prompt"], rec["completion"]
    if isinstance(prompt, str) and isinstance(completion, str):
        if not prompt:
            raise RecordError("input.missing_field", "the prompt is empty", field="prompt")
        answer: Turn = ("assistant", completion, None, "completion")
        parsed = parse_chat_template(prompt)
        if parsed is not None:  # a prompt rendered with a chat template: its turns, system included
            turns = parsed.turns
            if turns and turns[-1] == ("assistant", ""):  # the open header the completion follows
                turns = turns[:-1]
            return [(role, content, None, "prompt") for role, content in turns] + [answer]
        return [("user", prompt, None, "prompt"), answer]
    if isinstance(prompt, list) and isinstance(completion, list):
        answer = parse_turns(completion, "completion", message)
        if len(answer) != 1:
            msg = f"a conversational completion holds exactly one assistant message, got {len(answer)}"
            raise RecordError(
                "input.no_completion" if not answer else "input.malformed", msg, field="completion"
            )
        return parse_turns(prompt, "prompt", message) + answer
    for name, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str | list):
            msg = f"must be a string or a list of messages, got {kind_of(value)}"
            raise RecordError("input.wrong_type", msg, field=name)
    msg = (
        f"prompt is {kind_of(prompt)} but completion is {kind_of(completion)}; use two strings (plain) "
        "or two lists of messages (conversational)"
    )
    raise RecordError("input.wrong_type", msg, field="completion")


def _alpaca(rec: dict[str, Any], instruction_as_system: bool) -> list[Turn]:
    if "instruction" not in rec:
        raise RecordError("input.missing_field", "the record has no 'instruction'", field="instruction")
    if "output" not in rec:
        raise RecordError("input.no_completion", "the record has no 'output'", field="output")
    instruction = require_str(rec["instruction"], "instruction")
    user_input = optional_str(rec, "input") or ""
    output = require_str(rec["output"], "output")
    system = optional_str(rec, "system")
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
    history: list[Turn] = []
    for i, pair in enumerate(require_list(rec, "history") if "history" in rec else []):
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            msg = f"a history entry must be a [question, answer] pair, got {kind_of(pair)}"
            raise RecordError("input.wrong_type", msg, field=f"history[{i}]")
        q, a = (require_str(pair[k], f"history[{i}][{k}]") for k in (0, 1))
        history += [("user", q, None, f"history[{i}]"), ("assistant", a, None, f"history[{i}]")]
    return with_system(
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


# --- small helpers ------------------------------------------------------------------------


def _check_tools(tools: Any) -> None:
    """`tools` (tool definitions, kept in metadata) must be a list, or a JSON string holding one."""
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except RecursionError:
            msg = "a string holding the tool definitions nests too deep to read"
            raise RecordError("input.malformed", msg, field="tools") from None
        except ValueError as err:
            msg = f"a string must hold the tool definitions as JSON: {getattr(err, 'msg', err)}"
            raise RecordError("input.malformed", msg, field="tools") from None
    if not isinstance(tools, list):
        raise RecordError(
            "input.wrong_type",
            f"must be a list of tool definitions, got {kind_of(tools)}",
            field="tools",
        )


@lru_cache(maxsize=16)
def _key_set(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(keys)


def _check_fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown record format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt
