"""Tool calls read from real conversation shapes: JSON arguments, known tools, the tool's schema."""

from __future__ import annotations

import json

import pytest
from real_shapes import CALCULATOR

from synthgate.schemas.adapters import to_sample
from synthgate.schemas.chain_config import ToolsConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.chain import Chain
from synthgate.validators.tools import ToolsValidator

QUESTION = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
    "for her friends every day with four. How many eggs are left to sell?"
)


def openai_call(arguments, name: str = "calculator", tools=(CALCULATOR,)) -> dict:
    record = {
        "messages": [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
                ],
            },
        ]
    }
    if tools:
        record["tools"] = list(tools)
    return record


def check(record: dict, fmt: str = "messages") -> tuple[Sample, list]:
    sample = to_sample(record, fmt)
    return sample, ToolsValidator().check(sample).verdicts


def test_a_completion_that_is_a_tool_call_with_valid_arguments_passes_the_whole_chain():
    sample = to_sample(openai_call('{"expression": "16 - 3 - 4"}'), "messages")
    assert sample.completion == (
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "16 - 3 - 4"}}\n</tool_call>'
    )
    result = Chain().run(sample)
    assert result.verdicts == []  # not artifact.empty_completion, not input.no_completion


def test_arguments_that_are_not_json_are_invalid_arguments_with_their_span():
    sample, verdicts = check(openai_call('{"expression": "16 - 3 - 4"'))  # the closing brace is missing
    assert [v.code for v in verdicts] == ["tool.invalid_arguments"]
    v = verdicts[0]
    assert "'calculator'" in v.message and "not JSON" in v.message
    assert v.span.field == "completion"
    assert sample.completion[v.span.start : v.span.end] == '"{\\"expression\\": \\"16 - 3 - 4\\""'


def test_a_call_to_a_tool_the_record_does_not_define_is_unknown_tool():
    _, verdicts = check(openai_call('{"query": "duck eggs"}', name="web_search"))
    assert [v.code for v in verdicts] == ["tool.unknown_tool"]
    assert verdicts[0].message.endswith("which the record's tools do not define (defined: calculator)")


def test_arguments_against_the_tools_json_schema():
    sample, verdicts = check(openai_call('{"expr": "16 - 3 - 4"}'))
    assert [v.code for v in verdicts] == ["tool.schema_violation"]
    assert "'expression' is a required property" in verdicts[0].message
    assert sample.completion[verdicts[0].span.start : verdicts[0].span.end] == '{"expr": "16 - 3 - 4"}'


def test_without_tool_definitions_only_the_json_is_checked():
    _, verdicts = check(openai_call('{"anything": 1}', name="whatever", tools=()))
    assert verdicts == []


def test_sharegpt_function_call_and_observation_turns_with_tools_as_a_json_string():
    record = {
        "conversations": [
            {"from": "human", "value": QUESTION},
            {"from": "function_call", "value": json.dumps({"name": "calculator", "arguments": {"expr": 1}})},
            {"from": "observation", "value": "9"},
            {"from": "gpt", "value": "Janet has 9 eggs left to sell."},
        ],
        "tools": json.dumps([CALCULATOR["function"]]),
    }
    sample, verdicts = check(record, "sharegpt")
    assert [m.role for m in sample.prompt] == ["user", "assistant", "tool"]
    assert sample.completion == "Janet has 9 eggs left to sell."
    assert [(v.code, v.span.field) for v in verdicts] == [("tool.schema_violation", "prompt")]
    assert "prompt turn 1" in verdicts[0].message


def test_a_sharegpt_function_call_that_is_not_json_is_a_malformed_call():
    record = {
        "conversations": [
            {"from": "human", "value": QUESTION},
            {"from": "function_call", "value": "calculator(16 - 3 - 4)"},
        ]
    }
    sample, verdicts = check(record, "sharegpt")
    assert [v.code for v in verdicts] == ["tool.malformed_call"]
    assert sample.completion[verdicts[0].span.start : verdicts[0].span.end] == "calculator(16 - 3 - 4)"


@pytest.mark.parametrize(
    "completion",
    [
        # Docs about tool calling quote the format in code: an example, not a call.
        "Hermes models emit calls like this:\n```\n<tool_call>\n{name: get_weather}\n</tool_call>\n```",
        "Wrap each call in `<tool_call>` tags.",
        "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.",  # GSM8K calculator annotations
        "| tool | use |\n|---|---|\n| calculator | arithmetic |",
    ],
)
def test_text_that_mentions_tool_calls_without_making_one_is_left_alone(completion):
    sample = Sample(prompt=[Message(role="user", content=QUESTION)], completion=completion)
    assert ToolsValidator().check(sample).verdicts == []


def test_calls_in_earlier_turns_are_skipped_when_check_prompts_is_off():
    record = {
        "conversations": [
            {"from": "human", "value": QUESTION},
            {"from": "function_call", "value": "not json"},
            {"from": "observation", "value": "9"},
            {"from": "gpt", "value": "9 eggs."},
        ]
    }
    sample = to_sample(record, "sharegpt")
    assert ToolsValidator(ToolsConfig(check_prompts=False)).check(sample).verdicts == []


def test_many_calls_to_one_tool_are_not_a_collapsed_template_but_identical_prose_is():
    from real_shapes import GSM8K, calculator_calls

    from synthgate.validators.sets import SetChecker

    annotated = [r for r in GSM8K if calculator_calls(r["answer"])][:40]

    def collapse(completions: list[str]) -> list:
        checker = SetChecker()
        for i, (r, completion) in enumerate(zip(annotated, completions, strict=True)):
            checker.observe(
                i, Sample(prompt=[Message(role="user", content=r["question"])], completion=completion)
            )
        return [f for f in checker.finish()[1] if f.code == "set.template_collapse"]

    calls = [
        to_sample(
            openai_call(json.dumps({"expression": calculator_calls(r["answer"])[0][0]})), "messages"
        ).completion
        for r in annotated
    ]
    assert collapse(calls) == []
    prose = [f"The calculator says the result is {calculator_calls(r['answer'])[0][1]}." for r in annotated]
    assert len(collapse(prose)) == 1


def test_tool_definitions_that_are_not_json_are_an_input_error_naming_the_field():
    from synthgate.schemas.record_errors import RecordError

    record = {**openai_call('{"expression": "1+1"}'), "tools": '[{"name": "calculator",'}
    with pytest.raises(RecordError, match=r"tools: a string must hold the tool definitions as JSON") as e:
        to_sample(record, "messages")
    assert e.value.code == "input.malformed"


def test_a_call_nested_thousands_deep_is_a_malformed_call_not_a_crash():
    deep = "[" * 5000 + "]" * 5000
    record = {
        "conversations": [
            {"from": "human", "value": QUESTION},
            {"from": "function_call", "value": '{"name": "calculator", "arguments": ' + deep + "}"},
        ]
    }
    sample, verdicts = check(record, "sharegpt")
    assert [(v.code, v.message) for v in verdicts] == [
        ("tool.malformed_call", "the call nests arrays/objects too deep to read in the completion")
    ]
