"""Common field names map onto the adapters' formats; a record two shapes fit is an error, not a guess."""

from __future__ import annotations

import pytest

from synthgate.schemas.adapters import to_sample
from synthgate.schemas.field_map import FieldNames, map_record
from synthgate.schemas.record_errors import RecordError


@pytest.mark.parametrize(
    ("record", "fmt", "shape", "mapped"),
    [
        (
            {"prompt": "Q", "response": "A"},
            "prompt-completion",
            "prompt/response",
            {"prompt": "Q", "completion": "A"},
        ),
        (
            {"question": "Q", "answer": "A"},
            "prompt-completion",
            "question/answer",
            {"prompt": "Q", "completion": "A"},
        ),
        (
            {"query": "Q", "response": "A"},
            "prompt-completion",
            "query/response",
            {"prompt": "Q", "completion": "A"},
        ),
        (
            {"input": "Q", "output": "A"},
            "prompt-completion",
            "input/output",
            {"prompt": "Q", "completion": "A"},
        ),
        (
            {"instruction": "Sum.", "context": "2, 2", "response": "4"},
            "alpaca",
            "instruction/context/response",
            {"instruction": "Sum.", "input": "2, 2", "output": "4"},
        ),
        (
            {"question": "Q", "chosen": "good", "rejected": "bad"},
            "preference",
            "question/chosen/rejected",
            {"prompt": "Q", "chosen": "good", "rejected": "bad"},
        ),
        # The adapters' own formats read as before, and win over a shape they contain.
        (
            {"instruction": "I", "input": "X", "output": "O"},
            "alpaca",
            "instruction/output",
            {"instruction": "I", "input": "X", "output": "O"},
        ),
        (
            {"prompt": "Q", "completion": "A"},
            "prompt-completion",
            "prompt/completion",
            {"prompt": "Q", "completion": "A"},
        ),
        (
            {"system_prompt": "Be kind.", "question": "Q", "response": "A"},
            "prompt-completion",
            "question/response",
            {"prompt": "Q", "completion": "A", "system": "Be kind."},
        ),
    ],
)
def test_common_field_names_map_onto_a_format(record, fmt, shape, mapped):
    m = map_record(record)
    assert (m.fmt, m.shape, m.record) == (fmt, shape, mapped)


def test_fields_no_shape_uses_are_left_in_the_record_for_metadata():
    m = map_record({"question": "Q", "answer": "A", "type": "math", "source_arxiv_id": "2110.14168"})
    assert m.record == {"prompt": "Q", "completion": "A", "type": "math", "source_arxiv_id": "2110.14168"}


@pytest.mark.parametrize(
    ("record", "match"),
    [
        (
            {"prompt": "Q", "query": "Q2", "response": "A"},
            r"fits more than one shape: prompt/response \('prompt', 'response'\); "
            r"query/response \('query', 'response'\)",
        ),
        (
            {"question": "Q", "answer": "A", "chosen": "x", "rejected": "y"},
            r"question/answer \('question', 'answer'\); "
            r"question/chosen/rejected \('question', 'chosen', 'rejected'\)",
        ),
        ({"prompt": "Q", "completion": "A", "response": "B"}, r"prompt/completion .*; prompt/response"),
    ],
)
def test_a_record_two_shapes_fit_is_an_error_naming_the_fields(record, match):
    with pytest.raises(RecordError, match=match) as e:
        map_record(record)
    assert e.value.code == "input.malformed"
    assert "--prompt-field" in e.value.message


def test_named_fields_map_anything_else_and_override_the_common_names():
    m = map_record(
        {"problem": "2+2?", "solution": "4", "persona_text": "A teacher.", "answer": "ignored"},
        FieldNames(prompt="problem", completion="solution", system="persona_text"),
    )
    assert (m.fmt, m.shape) == ("prompt-completion", "problem/solution")
    assert m.record == {"prompt": "2+2?", "completion": "4", "system": "A teacher.", "answer": "ignored"}
    assert m.original_field("completion") == "solution"


def test_a_named_field_the_record_lacks_is_an_error_naming_it():
    with pytest.raises(
        RecordError, match=r"--completion-field 'solution' is not in the record \(keys: problem\)"
    ):
        map_record({"problem": "2+2?"}, FieldNames(prompt="problem", completion="solution"))


def test_a_text_record_holding_a_chat_template_becomes_messages_with_its_system_prompt():
    text = (
        "<|im_start|>system\nAnswer in French.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
        "<|im_start|>assistant\nBonjour<|im_end|>\n"
    )
    m = map_record({"text": text, "source": "web"})
    s = to_sample(m.record, m.fmt, allow_extra_fields=True)
    assert (s.system_prompt, s.prompt[0].content, s.completion) == ("Answer in French.", "Hello", "Bonjour")
    assert (m.shape, s.metadata.extra) == ("text (chatml)", {"source": "web"})
    assert m.original_field("messages[2].role") == "text"


def test_a_plain_text_record_is_refused_with_the_reason():
    with pytest.raises(
        RecordError, match=r"'text', and it is not a chat template .*plain text has no prompt"
    ):
        map_record({"text": "Just some prose."})


def test_a_text_record_ending_on_an_open_assistant_header_has_no_completion():
    m = map_record({"text": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"})
    with pytest.raises(RecordError, match="the last turn is the user's") as e:
        to_sample(m.record, m.fmt)
    assert e.value.code == "input.no_completion"


def test_a_prompt_string_rendered_with_a_template_gives_the_sample_its_system_prompt():
    prompt = (
        "<|start_header_id|>system<|end_header_id|>\n\nOnly answer about cooking.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHow long do I boil an egg?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    s = to_sample({"prompt": prompt, "completion": "About nine minutes."}, "prompt-completion")
    assert s.system_prompt == "Only answer about cooking."
    assert [(m.role, m.content) for m in s.prompt] == [("user", "How long do I boil an egg?")]


def test_a_type_column_is_the_task_type_and_a_named_task_field_wins():
    assert (
        to_sample({"prompt": "Q", "completion": "A", "type": "refusal"}, "prompt-completion").task_type
        == "refusal"
    )
    s = to_sample(
        {"prompt": "Q", "completion": "A", "type": "x", "kind": "math"},
        "prompt-completion",
        task_field="kind",
    )
    assert (s.task_type, s.metadata.extra) == ("math", {"type": "x"})
