"""Preference records (DPO/ORPO/KTO pairs) -> two Samples sharing one prompt. Pure: no I/O.

A record holds `prompt`, `chosen` and `rejected`, with an optional `system` prompt, in the
shapes TRL and the public preference sets use:

- plain: three strings;
- conversational: `prompt` a list of messages, `chosen`/`rejected` a list ending with the
  assistant's answer (usually just that one message);
- implicit prompt (TRL, HH-RLHF style): no `prompt`; `chosen` and `rejected` are whole
  conversations that share every turn but the last;
- UltraFeedback style: `prompt` a string and each side the whole conversation repeating it.

>>> chosen, rejected = to_preference_samples({"prompt": "2+2?", "chosen": "4", "rejected": "5"})
>>> (chosen.prompt == rejected.prompt, chosen.completion, rejected.completion)
(True, '4', '5')
"""

from __future__ import annotations

from typing import Any

from synthgate.schemas.adapters import PREFERENCE, unknown_keys
from synthgate.schemas.record_errors import RecordError, kind_of, optional_str
from synthgate.schemas.record_metadata import METADATA_KEYS, parse_metadata
from synthgate.schemas.record_turns import Turn, message_parser, parse_turns, split_turns, with_system
from synthgate.schemas.sample import Sample

SIDES = ("chosen", "rejected")
# Besides the pair itself: the scores and prompt id UltraFeedback-style sets carry, kept as metadata.
_PAIR_EXTRAS = ("prompt_id", "score_chosen", "score_rejected")
PREFERENCE_KEYS = ("prompt", *SIDES, "system", *_PAIR_EXTRAS, *METADATA_KEYS)
_TOP_LEVEL_REASONING = ("reasoning", "reasoning_content")


def to_preference_samples(
    record: dict[str, Any],
    *,
    system_prompt: str | None = None,
    allow_extra_fields: bool = False,
    reasoning_field: str | None = None,
    task_field: str | None = None,
) -> tuple[Sample, Sample]:
    """(chosen, rejected): two samples with the same system prompt and prompt turns.

    Raises RecordError (an `input.*` code and the field) when the record is not a usable pair:
    a side missing or not ending with an assistant answer, or sides whose earlier turns differ
    from each other or from `prompt`. `system_prompt` applies when the record carries none.
    Reasoning belongs to a side: `reasoning_content` (or `reasoning_field`) on its final message.
    """
    if not isinstance(record, dict):
        raise RecordError("input.wrong_type", f"a record must be a JSON object, got {kind_of(record)}")
    rec = {k: v for k, v in record.items() if v is not None}
    unknown = unknown_keys(rec, PREFERENCE_KEYS, PREFERENCE, allow_extra_fields, task_field=task_field)
    for key in (*_TOP_LEVEL_REASONING, reasoning_field):
        if key in rec:
            msg = (
                "a preference record's reasoning belongs to one side: put it on the final assistant "
                "message of 'chosen' or 'rejected' (reasoning_content)"
            )
            raise RecordError("input.malformed", msg, field=key)
    message = message_parser(reasoning_field)
    given = _prompt(rec, message)
    prefixes, answers = {}, {}
    for side in SIDES:
        prefixes[side], answers[side] = _side(rec, side, message)
    shared = _shared_prompt(given, prefixes)
    system = optional_str(rec, "system")
    task_type, _, metadata = parse_metadata(
        rec, unknown + [k for k in _PAIR_EXTRAS if k in rec], None, task_field
    )
    samples = []
    for side in SIDES:
        turns = with_system(system, [*shared, answers[side]])
        sys_text, prompt, completion, reasoning = split_turns(turns, "prompt" if given else side)
        samples.append(
            Sample.model_validate(
                {
                    "system_prompt": sys_text or system_prompt or None,
                    "prompt": prompt,
                    "completion": completion,
                    "reasoning": reasoning,
                    "task_type": task_type,
                    "metadata": metadata,
                }
            )
        )
    return samples[0], samples[1]


def _prompt(rec: dict[str, Any], message: Any) -> list[Turn] | None:
    if "prompt" not in rec:
        return None
    prompt = rec["prompt"]
    if isinstance(prompt, str):
        if not prompt:
            raise RecordError("input.missing_field", "the prompt is empty", field="prompt")
        return [("user", prompt, None, "prompt")]
    if isinstance(prompt, list):
        return parse_turns(prompt, "prompt", message)
    msg = f"must be a string or a list of messages, got {kind_of(prompt)}"
    raise RecordError("input.wrong_type", msg, field="prompt")


def _side(rec: dict[str, Any], side: str, message: Any) -> tuple[list[Turn], Turn]:
    """(the turns before the answer, the answer) of one side."""
    if side not in rec:
        raise RecordError("input.no_completion", f"the record has no {side!r}", field=side)
    value = rec[side]
    if isinstance(value, str):
        return [], ("assistant", value, None, side)
    if not isinstance(value, list):
        msg = f"must be a string or a list of messages, got {kind_of(value)}"
        raise RecordError("input.wrong_type", msg, field=side)
    turns = parse_turns(value, side, message)
    if not turns:
        raise RecordError("input.no_completion", "the list holds no messages", field=side)
    if turns[-1][0] != "assistant":
        msg = f"the last turn is the {turns[-1][0]}'s; it must be the assistant's answer"
        raise RecordError("input.no_completion", msg, field=turns[-1][3])
    return turns[:-1], turns[-1]


def _shared_prompt(given: list[Turn] | None, prefixes: dict[str, list[Turn]]) -> list[Turn]:
    """The prompt both sides answer: `prompt`, which a side may repeat, else their common turns."""

    def text(turns: list[Turn]) -> list[tuple[str, str]]:
        return [(role, content) for role, content, _, _ in turns]

    if given is not None:
        for side, prefix in prefixes.items():
            if prefix and text(prefix) != text(given):
                msg = f"the turns before {side}'s answer differ from 'prompt'; both sides must answer it"
                raise RecordError("input.malformed", msg, field=side)
        return given
    chosen, rejected = prefixes["chosen"], prefixes["rejected"]
    if not chosen and not rejected:
        msg = "no 'prompt', and chosen/rejected hold only an answer: nothing says what they answer"
        raise RecordError("input.missing_field", msg, field="prompt")
    if text(chosen) != text(rejected):
        msg = "without 'prompt', chosen and rejected must share every turn before their answers"
        raise RecordError("input.malformed", msg, field="rejected")
    return chosen
