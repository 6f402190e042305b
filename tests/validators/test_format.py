"""Format rules: prose task types reject markdown headers and lists; JSON task types must parse and
match their JSON Schema."""

from __future__ import annotations

import pytest

from synthgate.errors import ConfigError
from synthgate.schemas.chain_config import FormatConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.format import FormatValidator
from synthgate.validators.text import fenced_ranges

PERSON_SCHEMA = {
    "type": "object",
    "required": ["name", "age", "tags"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


def sample(completion: str, task_type: str | None = "grounded") -> Sample:
    return Sample(
        prompt=[Message(role="user", content="What does the passage say?")],
        completion=completion,
        task_type=task_type,
    )


def check(completion: str, task_type: str | None = "grounded", **config) -> list:
    return FormatValidator(FormatConfig(**config)).check(sample(completion, task_type)).verdicts


def codes_and_spans(completion: str, task_type: str | None = "grounded", **config) -> list:
    return [(v.code, completion[v.span.start : v.span.end]) for v in check(completion, task_type, **config)]


def test_inline_hashtag_and_csharp_in_prose_are_clean():
    text = "The launch used #hashtag campaigns.\n#1 priority was the C# language port, not #2."
    assert check(text) == []


def test_two_item_list_in_grounded_answer_fails_at_first_item():
    text = "The report names two causes:\n- rising costs\n- weaker demand\nBoth are temporary."
    verdicts = check(text)
    assert [v.code for v in verdicts] == ["format.markdown_bullets"]
    span = verdicts[0].span
    assert (span.field, span.start, span.end) == ("completion", 29, 43)
    assert text[span.start : span.end] == "- rising costs"
    assert "2 list lines" in verdicts[0].message


def test_numbered_items_with_dot_and_paren_count_as_a_list():
    text = "Steps:\n1. Mix the flour.\n2) Bake for an hour.\n• Serve warm."
    verdicts = check(text)
    assert [v.code for v in verdicts] == ["format.markdown_bullets"]
    assert "3 list lines" in verdicts[0].message
    assert text[verdicts[0].span.start : verdicts[0].span.end] == "1. Mix the flour."


def test_single_list_line_is_below_min_bullets_and_passes():
    assert check("Note:\n- only one caveat applies here.") == []
    assert [v.code for v in check("Note:\n- one caveat.", min_bullets=1)] == ["format.markdown_bullets"]


def test_thematic_break_is_not_a_list():
    assert check("First part.\n\n- - -\n\nSecond part.\n\n* * *\n") == []


def test_atx_headers_fail_with_span_of_first_header_line():
    text = "Intro sentence.\n## Summary\nBody text.\n### Details\nMore."
    verdicts = check(text)
    assert [v.code for v in verdicts] == ["format.markdown_header"]
    assert (verdicts[0].span.start, verdicts[0].span.end) == (16, 26)
    assert "2 markdown header line(s)" in verdicts[0].message


def test_setext_header_spans_title_and_underline():
    assert codes_and_spans("Summary\n=======\nThe answer is yes.") == [
        ("format.markdown_header", "Summary\n=======")
    ]
    assert codes_and_spans("Intro.\nOverview\n---\nText.") == [("format.markdown_header", "Overview\n---")]


def test_header_and_list_are_both_reported():
    text = "# Answer\n- one\n- two"
    assert codes_and_spans(text) == [
        ("format.markdown_header", "# Answer"),
        ("format.markdown_bullets", "- one"),
    ]


def test_code_fences_with_comment_and_dash_lines_are_clean():
    text = (
        "Run the script as shown.\n```python\n# comment: load the data\n- not a list\n- still code\n"
        "```\nThen read the output.\n~~~\n## also code\n~~~\n"
    )
    assert check(text) == []


def test_unclosed_fence_hides_the_rest_of_the_text():
    assert fenced_ranges("a\n```\n# x\n- y") == [(2, 13)]
    assert check("Example:\n```\n# x\n- y\n- z") == []


def test_header_after_a_closed_fence_still_fails():
    text = "```\n# inside\n```\n# Outside"
    assert codes_and_spans(text) == [("format.markdown_header", "# Outside")]


@pytest.mark.parametrize("task_type", [None, "custom"])
def test_untyped_or_unlisted_task_types_get_no_prose_rule(task_type):
    assert check("# Title\n- a\n- b", task_type) == []


def test_fenced_valid_json_passes():
    text = '```json\n{"name": "Ada", "age": 36, "tags": ["math"]}\n```'
    assert check(text, "extract", json_schemas={"extract": PERSON_SCHEMA}) == []


def test_bare_valid_json_passes_and_prose_rules_do_not_apply_to_json_types():
    text = '{"name": "Ada", "age": 36, "tags": []}'
    assert check(text, "extract", json_schemas={"extract": PERSON_SCHEMA}) == []


def test_invalid_json_is_reported_at_the_parse_error_position():
    text = '{"name": "Ada", "age": }'
    verdicts = check(text, "extract", json_schemas={"extract": PERSON_SCHEMA})
    assert [v.code for v in verdicts] == ["schema.invalid_json"]
    assert (verdicts[0].span.start, verdicts[0].span.end) == (23, 24)
    assert text[verdicts[0].span.start] == "}"
    assert "Expecting value" in verdicts[0].message


def test_parse_error_inside_a_fence_is_offset_into_the_completion():
    text = '```json\n{"name": "Ada",,}\n```'
    verdicts = check(text, "extract", json_schemas={"extract": PERSON_SCHEMA})
    assert [v.code for v in verdicts] == ["schema.invalid_json"]
    assert verdicts[0].span.start == text.index(",,") + 1


def test_prose_around_json_does_not_parse():
    verdicts = check('Sure! Here it is: {"name": "Ada"}', "extract", json_schemas={"extract": PERSON_SCHEMA})
    assert [(v.code, v.span.start) for v in verdicts] == [("schema.invalid_json", 0)]


def test_every_schema_violation_is_reported_with_its_json_path():
    text = '{"name": 7, "age": -1, "tags": ["ok", 3], "extra": true}'
    verdicts = check(text, "extract", json_schemas={"extract": PERSON_SCHEMA})
    assert [v.code for v in verdicts] == ["schema.violation"] * 4
    messages = [v.message for v in verdicts]
    assert messages[0].startswith("$: Additional properties are not allowed ('extra'")
    assert messages[1].startswith("$.age: -1 is less than the minimum of 0")
    assert messages[2].startswith("$.name: 7 is not of type 'string'")
    assert messages[3].startswith("$.tags[1]: 3 is not of type 'string'")
    assert {(v.span.start, v.span.end) for v in verdicts} == {(0, len(text))}


def test_missing_required_field_names_the_field():
    verdicts = check('```json\n{"name": "Ada"}\n```', "extract", json_schemas={"extract": PERSON_SCHEMA})
    assert [v.message.split(" (JSON")[0] for v in verdicts] == [
        "$: 'age' is a required property",
        "$: 'tags' is a required property",
    ]
    assert (verdicts[0].span.start, verdicts[0].span.end) == (8, 23)


def test_invalid_schema_in_config_is_a_config_error_naming_the_task_type():
    with pytest.raises(ConfigError, match=r"format.json_schemas\['extract'\] is not a valid JSON Schema"):
        FormatValidator(FormatConfig(json_schemas={"extract": {"type": "no-such-type"}}))
