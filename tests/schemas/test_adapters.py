"""Record dicts in the four input formats become Samples; unusable records say code and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgate.schemas.adapters import (
    FORMATS,
    RecordError,
    accepted_keys,
    detect_format,
    from_sample,
    to_sample,
)
from synthgate.schemas.sample import Message, Sample, SampleMetadata
from synthgate.validators.codes import CODES

DATA = Path(__file__).resolve().parents[1] / "data"


def turns(sample: Sample) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in sample.prompt]


# --- messages -----------------------------------------------------------------------------


def test_messages_leading_system_becomes_system_prompt_and_last_assistant_the_completion():
    s = to_sample(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Hi?", "name": "ann"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Bye?"},
                {"role": "assistant", "content": "Bye."},
            ]
        },
        "messages",
    )
    assert s.system_prompt == "Be terse."
    assert turns(s) == [("user", "Hi?"), ("assistant", "Hello."), ("user", "Bye?")]
    assert s.completion == "Bye."


def test_messages_content_given_as_text_parts_is_joined():
    record = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Sum "}, {"type": "text", "text": "2+2"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
        ]
    }
    s = to_sample(record, "messages")
    assert turns(s) == [("user", "Sum 2+2")]
    assert s.completion == "4"


def test_messages_reasoning_content_on_the_final_turn_becomes_sample_reasoning():
    record = {
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "two and two"},
        ]
    }
    assert to_sample(record, "messages").reasoning == "two and two"


def test_system_prompt_argument_applies_only_to_records_without_one():
    bare = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}
    own = {"messages": [{"role": "system", "content": "Own."}, *bare["messages"]]}
    assert to_sample(bare, "messages", system_prompt="Given.").system_prompt == "Given."
    assert to_sample(own, "messages", system_prompt="Given.").system_prompt == "Own."


# --- TRL prompt/completion ----------------------------------------------------------------


def test_trl_conversational_system_inside_prompt_becomes_system_prompt():
    record = {
        "prompt": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi?"}],
        "completion": [{"role": "assistant", "content": "Hello."}],
    }
    s = to_sample(record, "prompt-completion")
    assert (s.system_prompt, turns(s), s.completion) == ("Be terse.", [("user", "Hi?")], "Hello.")


def test_trl_plain_strings_become_one_user_turn_and_the_completion():
    s = to_sample({"prompt": "The sky is", "completion": " blue."}, "prompt-completion")
    assert (s.system_prompt, turns(s), s.completion) == (None, [("user", "The sky is")], " blue.")


# --- alpaca -------------------------------------------------------------------------------


def test_alpaca_user_turn_is_instruction_blank_line_input():
    record = {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}
    s = to_sample(record, "alpaca")
    assert turns(s) == [("user", "Translate to French.\n\nGood morning")]
    assert (s.system_prompt, s.completion) == (None, "Bonjour")


def test_alpaca_empty_input_leaves_the_instruction_alone():
    s = to_sample({"instruction": "Name a colour.", "input": "", "output": "Red."}, "alpaca")
    assert turns(s) == [("user", "Name a colour.")]


def test_alpaca_instruction_as_system_makes_the_input_the_user_turn():
    record = {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}
    s = to_sample(record, "alpaca", instruction_as_system=True)
    assert (s.system_prompt, turns(s)) == ("Translate to French.", [("user", "Good morning")])


def test_alpaca_history_pairs_become_earlier_turns_and_system_key_the_system_prompt():
    record = {
        "instruction": "And 3+3?",
        "output": "6",
        "system": "You do sums.",
        "history": [["1+1?", "2"], ["2+2?", "4"]],
    }
    s = to_sample(record, "alpaca")
    assert s.system_prompt == "You do sums."
    assert turns(s) == [
        ("user", "1+1?"),
        ("assistant", "2"),
        ("user", "2+2?"),
        ("assistant", "4"),
        ("user", "And 3+3?"),
    ]


def test_all_50_real_alpaca_demo_records_adapt():
    records = json.loads((DATA / "alpaca_en_demo_50.json").read_text(encoding="utf-8"))
    samples = [to_sample(r, detect_format(r)) for r in records]
    assert len(samples) == 50
    for record, s in zip(records, samples, strict=True):
        expected = record["instruction"] + ("\n\n" + record["input"] if record["input"] else "")
        assert turns(s) == [("user", expected)]
        assert s.completion == record["output"]
    assert sum("\n\n" in s.prompt[0].content for s in samples) >= 20  # the 20 with an input


# --- sharegpt -----------------------------------------------------------------------------


def test_sharegpt_roles_map_to_user_assistant_and_tool():
    record = {
        "system": "You can call tools.",
        "conversations": [
            {"from": "human", "value": "Weather in Oslo?"},
            {"from": "function_call", "value": '{"name": "weather", "arguments": {"city": "Oslo"}}'},
            {"from": "observation", "value": '{"temp": 3}'},
            {"from": "gpt", "value": "It is 3 degrees."},
        ],
    }
    s = to_sample(record, "sharegpt")
    assert s.system_prompt == "You can call tools."
    assert [m.role for m in s.prompt] == ["user", "assistant", "tool"]
    assert s.completion == "It is 3 degrees."


def test_sharegpt_system_turn_and_user_assistant_spellings():
    record = {
        "conversations": [
            {"from": "system", "value": "Be terse."},
            {"from": "user", "value": "Hi?"},
            {"from": "assistant", "value": "Hello."},
        ]
    }
    s = to_sample(record, "sharegpt")
    assert (s.system_prompt, turns(s), s.completion) == ("Be terse.", [("user", "Hi?")], "Hello.")


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "fmt"),
    [
        ({"messages": []}, "messages"),
        ({"prompt": "a", "completion": "b"}, "prompt-completion"),
        ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
        ({"conversations": []}, "sharegpt"),
        ({"output": "b", "instruction": None, "messages": None}, "alpaca"),  # None counts as absent
    ],
)
def test_detect_format_from_keys(record, fmt):
    assert detect_format(record) == fmt


def test_detect_format_lists_keys_seen_and_keys_each_format_needs():
    with pytest.raises(
        RecordError, match=r"keys \['question', 'response'\].*alpaca needs 'instruction'"
    ) as e:
        detect_format({"question": "a", "response": "b"})
    assert e.value.code == "input.missing_field"


# --- metadata -----------------------------------------------------------------------------


def test_known_metadata_keys_map_into_sample_metadata():
    record = {
        "id": "rec-7",
        "category": "grounded",
        "persona": "nurse",
        "finish_reason": "stop",
        "source_ids": ["c1", 2],
        "teacher_model": "big",
        "critic_model": "judge",
        "reasoning": "think",
        "metadata": {"critic_scores": {"faithful": 0.9}, "task_type": "ignored", "batch": 3},
        "prompt": "Q?",
        "completion": "A.",
    }
    s = to_sample(record, "prompt-completion")
    assert (s.task_type, s.reasoning) == ("grounded", "think")
    assert s.metadata == SampleMetadata(
        persona="nurse",
        finish_reason="stop",
        source_ids=["c1", "2"],
        teacher_model="big",
        critic_model="judge",
        critic_scores={"faithful": 0.9},
        extra={"input_id": "rec-7", "batch": 3},
    )


def test_allow_extra_fields_keeps_unknown_keys_in_metadata_extra():
    s = to_sample(
        {"prompt": "Q?", "completion": "A.", "score": 5}, "prompt-completion", allow_extra_fields=True
    )
    assert s.metadata.extra == {"score": 5}


def test_every_format_accepts_the_metadata_keys_and_its_own():
    assert accepted_keys("alpaca")[:5] == ("instruction", "input", "output", "system", "history")
    assert all("persona" in accepted_keys(f) for f in FORMATS)


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_from_sample_then_to_sample_gives_the_sample_back(fmt):
    s = Sample(
        system_prompt="Be terse.",
        prompt=[
            Message(role="user", content="1+1?"),
            Message(role="assistant", content="2"),
            Message(role="user", content="2+2?"),
        ],
        completion="4",
        reasoning="add",
        task_type="math",
        metadata=SampleMetadata(persona="kid", extra={"input_id": "r1", "batch": 3}),
    )
    assert to_sample(from_sample(s, fmt, include_metadata=True), fmt) == s


def test_from_sample_prompt_completion_is_trl_conversational():
    s = Sample(system_prompt="S.", prompt=[Message(role="user", content="Q?")], completion="A.")
    assert from_sample(s, "prompt-completion") == {
        "prompt": [{"role": "system", "content": "S."}, {"role": "user", "content": "Q?"}],
        "completion": [{"role": "assistant", "content": "A."}],
    }


# --- errors: code and field pinned --------------------------------------------------------

USER = {"role": "user", "content": "Hi?"}
ANSWER = {"role": "assistant", "content": "Hello."}


def bad(fmt, record, code, field, match, **kwargs):
    return pytest.param(record, fmt, kwargs, code, field, match, id=f"{fmt}-{field}-{code}")


BAD_RECORDS = [
    bad(
        "messages", {"messages": [USER]}, "input.no_completion", "messages[0].role", "last turn is the user's"
    ),
    bad("messages", {"messages": []}, "input.no_completion", "messages", "no assistant turn"),
    bad("messages", {"messages": [ANSWER]}, "input.missing_field", "messages", "no user turn"),
    bad("messages", {"messages": "hi"}, "input.wrong_type", "messages", "must be a list, got a string"),
    bad(
        "messages",
        {"messages": [USER, {"role": "assistant"}]},
        "input.missing_field",
        "messages[1].content",
        "no 'content'",
    ),
    bad(
        "messages",
        {"messages": [USER, {"role": "bot", "content": "x"}]},
        "input.malformed",
        "messages[1].role",
        "unknown role 'bot'",
    ),
    bad(
        "messages",
        {"messages": [USER, {"role": "assistant", "content": [{"type": "image_url", "image_url": {}}]}]},
        "input.wrong_type",
        "messages[1].content[0]",
        "only text parts",
    ),
    bad(
        "messages",
        {"messages": [USER, {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}]},
        "input.missing_field",
        "messages[1].tool_calls[0].function.name",
        "a tool call needs a function name",
    ),
    bad(
        "messages",
        {"messages": [USER, {"role": "system", "content": "x"}, ANSWER]},
        "input.malformed",
        "messages[1].role",
        "may only open",
    ),
    bad(
        "messages",
        {"messages": [USER, {"role": "assistant", "content": 4}]},
        "input.wrong_type",
        "messages[1].content",
        "must be a string or a list of text parts, got an integer",
    ),
    bad(
        "messages",
        {"messages": [USER, ANSWER], "score": 1},
        "input.unknown_field",
        "score",
        r"unknown field\(s\) 'score'.*accepted: messages, tools, system, id",
    ),
    bad("prompt-completion", {"prompt": "Q?"}, "input.no_completion", "completion", "no 'completion'"),
    bad("prompt-completion", {"completion": "A."}, "input.missing_field", "prompt", "no 'prompt'"),
    bad(
        "prompt-completion",
        {"prompt": [USER], "completion": "A."},
        "input.wrong_type",
        "completion",
        "prompt is a list but completion is a string",
    ),
    bad(
        "prompt-completion",
        {"prompt": [USER], "completion": [USER]},
        "input.no_completion",
        "completion[0].role",
        "last turn is the user's",
    ),
    bad(
        "prompt-completion",
        {"prompt": [USER], "completion": [ANSWER, ANSWER]},
        "input.malformed",
        "completion",
        "exactly one assistant message, got 2",
    ),
    bad(
        "prompt-completion",
        {"prompt": "Q?", "completion": 3},
        "input.wrong_type",
        "completion",
        "string or a list of messages",
    ),
    bad("alpaca", {"instruction": "Do.", "input": ""}, "input.no_completion", "output", "no 'output'"),
    bad("alpaca", {"input": "x", "output": "y"}, "input.missing_field", "instruction", "no 'instruction'"),
    bad(
        "alpaca",
        {"instruction": "Do.", "output": ["a", "b"]},
        "input.wrong_type",
        "output",
        "must be a string, got a list",
    ),
    bad(
        "alpaca",
        {"instruction": "Do.", "output": "y"},
        "input.missing_field",
        "input",
        "'input' is empty",
        instruction_as_system=True,
    ),
    bad(
        "alpaca",
        {"instruction": "Do.", "output": "y", "history": [["q"]]},
        "input.wrong_type",
        "history[0]",
        r"\[question, answer\] pair",
    ),
    bad(
        "alpaca",
        {"instruction": "Do.", "output": "y", "history": [["q", 1]]},
        "input.wrong_type",
        "history[0][1]",
        "must be a string",
    ),
    bad(
        "sharegpt",
        {"conversations": [{"from": "human", "value": "Hi?"}]},
        "input.no_completion",
        "conversations[0].from",
        "last turn is the user's",
    ),
    bad(
        "sharegpt",
        {"conversations": [{"from": "robot", "value": "x"}]},
        "input.malformed",
        "conversations[0].from",
        "unknown role 'robot'",
    ),
    bad(
        "sharegpt",
        {"conversations": [{"value": "x"}]},
        "input.missing_field",
        "conversations[0].from",
        "no 'from'",
    ),
    bad(
        "sharegpt",
        {"conversations": [{"from": "gpt"}]},
        "input.missing_field",
        "conversations[0].value",
        "no 'value'",
    ),
    bad(
        "prompt-completion",
        {"prompt": "Q?", "completion": "A.", "persona": 3},
        "input.wrong_type",
        "persona",
        "valid string",
    ),
    bad(
        "prompt-completion",
        {"prompt": "Q?", "completion": "A.", "metadata": {"prompt_tokens": "many"}},
        "input.wrong_type",
        "metadata.prompt_tokens",
        "valid integer",
    ),
    bad(
        "prompt-completion",
        {"prompt": "Q?", "completion": "A.", "metadata": []},
        "input.wrong_type",
        "metadata",
        "must be an object",
    ),
    bad(
        "prompt-completion",
        {"prompt": "Q?", "completion": "A.", "task": 7},
        "input.wrong_type",
        "task",
        "must be a string",
    ),
    bad(
        "prompt-completion",
        {"prompt": "Q?", "completion": "A.", "id": [1]},
        "input.wrong_type",
        "id",
        "string or integer",
    ),
]


@pytest.mark.parametrize(("record", "fmt", "kwargs", "code", "field", "match"), BAD_RECORDS)
def test_unusable_records_raise_record_error_with_code_and_field(record, fmt, kwargs, code, field, match):
    with pytest.raises(RecordError, match=match) as e:
        to_sample(record, fmt, **kwargs)
    assert (e.value.code, e.value.field) == (code, field)
    assert e.value.code in CODES
    assert str(e.value).startswith(f"{field}: ")


def test_a_record_that_is_not_an_object_is_wrong_type():
    with pytest.raises(RecordError, match="must be a JSON object, got a list") as e:
        to_sample([1, 2], "messages")  # type: ignore[arg-type]
    assert e.value.code == "input.wrong_type"


def test_unknown_format_name_is_a_value_error():
    with pytest.raises(ValueError, match="unknown record format 'chatml'; choose one of messages"):
        to_sample({}, "chatml")
