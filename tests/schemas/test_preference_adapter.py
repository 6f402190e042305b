"""Preference records -> (chosen, rejected) Samples sharing one prompt; --reasoning-field mapping."""

from __future__ import annotations

import pytest

from synthgate.schemas.adapters import RecordError, detect_format, to_sample
from synthgate.schemas.preference import to_preference_samples


def turns(sample) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in sample.prompt]


def msg(role: str, content: str, **extra) -> dict:
    return {"role": role, "content": content, **extra}


def test_plain_strings_with_a_system_prompt_make_two_samples_sharing_system_and_prompt():
    chosen, rejected = to_preference_samples(
        {"system": "Be brief.", "prompt": "2+2?", "chosen": "4", "rejected": "Five, I think."}
    )
    assert (chosen.system_prompt, turns(chosen), chosen.completion) == ("Be brief.", [("user", "2+2?")], "4")
    assert (rejected.system_prompt, turns(rejected)) == ("Be brief.", [("user", "2+2?")])
    assert rejected.completion == "Five, I think."


def test_conversational_prompt_with_a_system_turn_and_one_message_sides():
    record = {
        "prompt": [
            msg("system", "Be brief."),
            msg("user", "Hi"),
            msg("assistant", "Hey"),
            msg("user", "2+2?"),
        ],
        "chosen": [msg("assistant", "4")],
        "rejected": [msg("assistant", "22")],
    }
    chosen, rejected = to_preference_samples(record)
    assert chosen.system_prompt == "Be brief."
    assert turns(chosen) == turns(rejected) == [("user", "Hi"), ("assistant", "Hey"), ("user", "2+2?")]
    assert (chosen.completion, rejected.completion) == ("4", "22")


def test_implicit_prompt_is_the_turns_both_sides_share():
    record = {
        "chosen": [msg("user", "Capital of France?"), msg("assistant", "Paris.")],
        "rejected": [msg("user", "Capital of France?"), msg("assistant", "Lyon.")],
    }
    chosen, rejected = to_preference_samples(record)
    assert turns(chosen) == turns(rejected) == [("user", "Capital of France?")]
    assert (chosen.completion, rejected.completion) == ("Paris.", "Lyon.")


def test_ultrafeedback_style_sides_may_repeat_the_prompt_and_scores_are_kept():
    record = {
        "prompt": "Capital of France?",
        "prompt_id": "abc",
        "chosen": [msg("user", "Capital of France?"), msg("assistant", "Paris.")],
        "rejected": [msg("user", "Capital of France?"), msg("assistant", "Lyon.")],
        "score_chosen": 9.0,
        "score_rejected": 2.0,
    }
    chosen, _ = to_preference_samples(record)
    assert turns(chosen) == [("user", "Capital of France?")]
    assert chosen.metadata.extra == {"prompt_id": "abc", "score_chosen": 9.0, "score_rejected": 2.0}


def test_reasoning_on_each_sides_final_message_stays_with_that_side():
    record = {
        "prompt": "2+2?",
        "chosen": [msg("assistant", "4", reasoning_content="two and two")],
        "rejected": [msg("assistant", "5", thoughts="guess")],
    }
    chosen, rejected = to_preference_samples(record, reasoning_field="thoughts")
    assert (chosen.reasoning, rejected.reasoning) == ("two and two", "guess")


def test_system_prompt_option_applies_only_when_the_record_has_none():
    bare = {"prompt": "Hi", "chosen": "Hello.", "rejected": "Go."}
    assert to_preference_samples(bare, system_prompt="Given.")[1].system_prompt == "Given."
    own = {**bare, "system": "Own."}
    assert to_preference_samples(own, system_prompt="Given.")[0].system_prompt == "Own."


@pytest.mark.parametrize(
    ("record", "code", "field", "match"),
    [
        ({"prompt": "Hi", "chosen": "Hello."}, "input.no_completion", "rejected", "no 'rejected'"),
        (
            {"prompt": "Hi", "chosen": "Hello.", "rejected": [msg("user", "Hi")]},
            "input.no_completion",
            "rejected[0].role",
            "must be the assistant's",
        ),
        (
            {"prompt": "Hi", "chosen": [msg("user", "Other"), msg("assistant", "x")], "rejected": "y"},
            "input.malformed",
            "chosen",
            "differ from 'prompt'",
        ),
        (
            {
                "chosen": [msg("user", "A?"), msg("assistant", "x")],
                "rejected": [msg("user", "B?"), msg("assistant", "y")],
            },
            "input.malformed",
            "rejected",
            "share every turn",
        ),
        ({"chosen": "x", "rejected": "y"}, "input.missing_field", "prompt", "nothing says what they answer"),
        ({"prompt": "Hi", "chosen": 3, "rejected": "y"}, "input.wrong_type", "chosen", "got an integer"),
        (
            {"prompt": "Hi", "chosen": "x", "rejected": "y", "reasoning": "r"},
            "input.malformed",
            "reasoning",
            "belongs to one side",
        ),
        (
            {"prompt": "Hi", "chosen": "x", "rejected": "y", "rating": 3},
            "input.unknown_field",
            "rating",
            "unknown field.*'rating'.*for the preference format",
        ),
    ],
)
def test_unusable_pairs_raise_a_record_error_naming_code_and_field(record, code, field, match):
    with pytest.raises(RecordError, match=match) as info:
        to_preference_samples(record)
    assert (info.value.code, info.value.field) == (code, field)


def test_extra_fields_are_kept_as_metadata_when_allowed():
    record = {"prompt": "Hi", "chosen": "x", "rejected": "y", "rating": 3}
    chosen, _ = to_preference_samples(record, allow_extra_fields=True)
    assert chosen.metadata.extra == {"rating": 3}


def test_chosen_and_rejected_records_are_detected_as_preference_before_prompt_completion():
    assert detect_format({"prompt": "Hi", "chosen": "x", "rejected": "y"}) == "preference"
    assert detect_format({"prompt": "Hi", "completion": "x"}) == "prompt-completion"


def test_to_sample_refuses_a_preference_format_and_points_at_the_pair_adapter():
    with pytest.raises(ValueError, match="to_preference_samples"):
        to_sample({"prompt": "Hi", "chosen": "x", "rejected": "y"}, "preference")


# --- --reasoning-field --------------------------------------------------------------------


def test_reasoning_field_maps_a_custom_top_level_field_and_is_not_an_unknown_field():
    record = {"prompt": "2+2?", "completion": "4", "thoughts": "two and two"}
    with pytest.raises(RecordError, match="unknown field.*'thoughts'"):
        to_sample(record, "prompt-completion")
    assert to_sample(record, "prompt-completion", reasoning_field="thoughts").reasoning == "two and two"


def test_reasoning_field_on_the_final_assistant_message_is_mapped():
    record = {"messages": [msg("user", "2+2?"), msg("assistant", "4", thinking="two and two")]}
    assert to_sample(record, "messages").reasoning is None
    assert to_sample(record, "messages", reasoning_field="thinking").reasoning == "two and two"


def test_named_reasoning_field_wins_over_the_usual_names_and_must_be_a_string():
    record = {"prompt": "2+2?", "completion": "4", "reasoning": "old", "thoughts": "new"}
    assert to_sample(record, "prompt-completion", reasoning_field="thoughts").reasoning == "new"
    with pytest.raises(RecordError, match="must be a string") as info:
        to_sample({**record, "thoughts": 3}, "prompt-completion", reasoning_field="thoughts")
    assert info.value.field == "thoughts"
