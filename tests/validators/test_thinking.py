"""Reasoning blocks are stripped (fixed), forbidden or required, and their text never leaks."""

from __future__ import annotations

import pytest

from synthgate.schemas.chain_config import ThinkingConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.schemas.verdict import Verdict
from synthgate.validators.base import Result
from synthgate.validators.thinking import ThinkingValidator

ANSWER = "LoRA trains two small matrices per layer and keeps the base weights frozen."


def sample(completion: str, reasoning: str | None = None) -> Sample:
    return Sample(
        prompt=[Message(role="user", content="How does LoRA save memory?")],
        completion=completion,
        reasoning=reasoning,
    )


def check(completion: str, mode: str = "strip", reasoning: str | None = None, **config) -> Result:
    return ThinkingValidator(ThinkingConfig(mode=mode, **config)).check(sample(completion, reasoning))


def codes(result: Result) -> list[str]:
    return [v.code for v in result.verdicts]


def spanned(completion: str, v: Verdict) -> str:
    assert v.span is not None and v.span.field == "completion"
    return completion[v.span.start : v.span.end]


# --- strip (default) -------------------------------------------------------------------------


def test_default_mode_is_strip_and_validator_is_named_thinking():
    v = ThinkingValidator()
    assert v.name == "thinking"
    assert v.config.mode == "strip"


def test_completion_without_tags_passes_and_keeps_the_same_sample_object():
    s = sample(ANSWER)
    result = ThinkingValidator().check(s)
    assert result.verdicts == []
    assert result.sample is s


def test_angle_brackets_that_are_not_reasoning_tags_are_left_alone():
    text = "Use x < y, then wrap it in <b>bold</b> or a <thinker> element; 3 > 2."
    s = sample(text)
    result = ThinkingValidator().check(s)
    assert result.verdicts == []
    assert result.sample is s


def test_think_block_is_stripped_with_its_span_in_the_original_completion():
    text = "<think>The user wants memory savings; mention frozen weights.</think>\n\n" + ANSWER
    result = check(text)
    assert codes(result) == ["think.stripped"]
    v = result.verdicts[0]
    assert v.status == "fixed"
    assert spanned(text, v) == "<think>The user wants memory savings; mention frozen weights.</think>"
    assert result.sample.completion == ANSWER


def test_empty_think_block_a_chat_template_inserts_is_stripped():
    text = "<think>\n\n</think>\n\n" + ANSWER
    result = check(text)
    assert codes(result) == ["think.stripped"]
    assert spanned(text, result.verdicts[0]) == "<think>\n\n</think>"
    assert result.sample.completion == ANSWER


@pytest.mark.parametrize(
    "opening, closing",
    [
        ("<thinking>", "</thinking>"),
        ("<reasoning>", "</reasoning>"),
        ("<THINK>", "</Think>"),
        ('<think time="3.2s" mode=deep>', "</think>"),
        ("< think >", "</ think >"),
    ],
)
def test_configured_tags_match_in_any_case_with_attributes_and_spaces(opening, closing):
    text = f"{opening}plan the answer{closing}\n{ANSWER}"
    result = check(text)
    assert codes(result) == ["think.stripped"]
    assert spanned(text, result.verdicts[0]) == f"{opening}plan the answer{closing}"
    assert result.sample.completion == ANSWER


def test_self_closing_think_tag_is_an_empty_block_and_is_stripped():
    text = "<think/>" + ANSWER
    result = check(text)
    assert codes(result) == ["think.stripped"]
    assert spanned(text, result.verdicts[0]) == "<think/>"
    assert result.sample.completion == ANSWER


def test_every_block_is_stripped_with_one_verdict_each_and_text_around_them_joined():
    text = "<think>first plan</think>LoRA is cheap. <think>second plan</think> It freezes weights."
    result = check(text)
    assert codes(result) == ["think.stripped", "think.stripped"]
    assert [spanned(text, v) for v in result.verdicts] == [
        "<think>first plan</think>",
        "<think>second plan</think>",
    ]
    assert result.sample.completion == "LoRA is cheap. It freezes weights."


def test_nested_blocks_are_removed_as_one_outer_block():
    text = "<think>outer <think>inner</think> still outer</think>" + ANSWER
    result = check(text)
    assert codes(result) == ["think.stripped"]
    assert spanned(text, result.verdicts[0]) == "<think>outer <think>inner</think> still outer</think>"
    assert result.sample.completion == ANSWER


def test_unclosed_block_fails_and_its_reasoning_never_survives_the_repair():
    text = "<think>The user wants savings. Draft: LoRA freezes " + ANSWER
    result = check(text)
    assert codes(result) == ["think.unclosed", "think.empty_after_strip"]
    unclosed = result.verdicts[0]
    assert unclosed.status == "fail"
    assert spanned(text, unclosed) == text  # from the opening tag to the end
    assert "Draft" not in result.sample.completion
    assert result.sample.completion == ""


def test_unclosed_block_after_an_answer_keeps_only_the_answer():
    text = ANSWER + "\n\n<thinking>Wait, maybe I should also mention QLoRA"
    result = check(text)
    assert codes(result) == ["think.unclosed"]
    assert spanned(text, result.verdicts[0]) == "<thinking>Wait, maybe I should also mention QLoRA"
    assert result.sample.completion == ANSWER


def test_closed_and_unclosed_blocks_are_both_reported():
    text = "<think>plan</think>" + ANSWER + " <think>second thoughts about rank"
    result = check(text)
    assert codes(result) == ["think.stripped", "think.unclosed"]
    assert spanned(text, result.verdicts[1]) == "<think>second thoughts about rank"
    assert result.sample.completion == ANSWER


def test_stray_closing_tag_from_qwen3_fails_with_span_up_to_the_tag():
    reasoning = "Okay, the user asks about LoRA memory. I should explain frozen weights."
    text = reasoning + "</think>\n\n" + ANSWER
    result = check(text)
    assert codes(result) == ["think.stray_close"]
    v = result.verdicts[0]
    assert v.status == "fail"
    assert v.span.start == 0
    assert spanned(text, v) == reasoning + "</think>"
    assert reasoning not in result.sample.completion
    assert result.sample.completion == ANSWER


def test_completion_that_is_only_reasoning_is_empty_after_strip():
    text = "<think>I am not sure what to say.</think>\n  \n"
    result = check(text)
    assert codes(result) == ["think.stripped", "think.empty_after_strip"]
    empty = result.verdicts[1]
    assert empty.status == "fail"
    assert (empty.span.start, empty.span.end) == (0, len(text))
    assert result.sample.completion == ""


def test_strip_mode_leaves_the_reasoning_field_alone_and_does_not_merge_it():
    s = sample("<think>short plan</think>" + ANSWER, reasoning="Long separate reasoning.")
    result = ThinkingValidator().check(s)
    assert codes(result) == ["think.stripped"]
    assert result.sample.reasoning == "Long separate reasoning."
    assert result.sample.completion == ANSWER


def test_reasoning_field_alone_passes_strip_mode_unchanged():
    s = sample(ANSWER, reasoning="Separate reasoning.")
    result = ThinkingValidator().check(s)
    assert result.verdicts == []
    assert result.sample is s


def test_repaired_sample_gets_a_new_content_id():
    s = sample("<think>x</think>" + ANSWER)
    result = ThinkingValidator().check(s)
    assert result.sample.id != s.id
    assert result.sample.id == sample(ANSWER).id


def test_custom_tag_list_strips_only_the_configured_tags():
    text = "<scratchpad>notes</scratchpad>" + ANSWER + " Literal <think> stays."
    result = check(text, tags=["scratchpad"])
    assert codes(result) == ["think.stripped"]
    assert spanned(text, result.verdicts[0]) == "<scratchpad>notes</scratchpad>"
    assert result.sample.completion == ANSWER + " Literal <think> stays."


# --- forbid ----------------------------------------------------------------------------------


def test_forbid_mode_fails_each_block_with_its_span_and_leaves_the_sample_unchanged():
    text = "<think>plan</think>" + ANSWER
    s = sample(text)
    result = ThinkingValidator(ThinkingConfig(mode="forbid")).check(s)
    assert codes(result) == ["think.forbidden"]
    assert result.verdicts[0].status == "fail"
    assert spanned(text, result.verdicts[0]) == "<think>plan</think>"
    assert result.sample is s


def test_forbid_mode_fails_an_unclosed_block_and_a_stray_close():
    unclosed = ANSWER + " <reasoning>hmm"
    result = check(unclosed, mode="forbid")
    assert codes(result) == ["think.forbidden"]
    assert spanned(unclosed, result.verdicts[0]) == "<reasoning>hmm"
    assert "Unclosed" in result.verdicts[0].message

    stray = "plan</think>" + ANSWER
    result = check(stray, mode="forbid")
    assert codes(result) == ["think.forbidden"]
    assert spanned(stray, result.verdicts[0]) == "plan</think>"


def test_forbid_mode_fails_a_reasoning_field_with_a_reasoning_span():
    result = check(ANSWER, mode="forbid", reasoning="Hidden chain of thought.")
    assert codes(result) == ["think.forbidden"]
    span = result.verdicts[0].span
    assert (span.field, span.start, span.end) == ("reasoning", 0, len("Hidden chain of thought."))


def test_forbid_mode_passes_a_completion_without_reasoning():
    assert check(ANSWER, mode="forbid").verdicts == []
    assert check(ANSWER, mode="forbid", reasoning="   ").verdicts == []


# --- keep (reasoning students) ---------------------------------------------------------------


def test_keep_mode_passes_one_block_at_the_start_followed_by_an_answer():
    s = sample("\n  <think>Frozen weights; low-rank updates.</think>\n\n" + ANSWER)
    result = ThinkingValidator(ThinkingConfig(mode="keep")).check(s)
    assert result.verdicts == []
    assert result.sample is s


def test_keep_mode_fails_a_completion_without_a_block():
    result = check(ANSWER, mode="keep")
    assert codes(result) == ["think.malformed"]
    assert result.verdicts[0].message.startswith("No reasoning block")


def test_keep_mode_accepts_reasoning_carried_in_its_own_field():
    assert check(ANSWER, mode="keep", reasoning="Plan: explain frozen weights.").verdicts == []


def test_keep_mode_fails_text_before_the_block_with_a_span_over_that_text():
    text = "Sure! <think>plan</think>" + ANSWER
    result = check(text, mode="keep")
    assert codes(result) == ["think.malformed"]
    assert "before the reasoning block" in result.verdicts[0].message
    assert spanned(text, result.verdicts[0]) == "Sure! "


def test_keep_mode_fails_two_blocks_pointing_at_the_second():
    text = "<think>plan</think>LoRA is cheap. <think>more</think> It freezes weights."
    result = check(text, mode="keep")
    assert codes(result) == ["think.malformed"]
    assert result.verdicts[0].message.startswith("2 reasoning blocks")
    assert spanned(text, result.verdicts[0]) == "<think>more</think>"


def test_keep_mode_fails_a_block_with_no_answer_after_it():
    text = "<think>plan only</think>\n\n"
    result = check(text, mode="keep")
    assert codes(result) == ["think.malformed"]
    assert result.verdicts[0].message.startswith("No answer")
    assert spanned(text, result.verdicts[0]) == "<think>plan only</think>"


def test_keep_mode_reports_an_unclosed_block_as_unclosed():
    text = "<think>plan that never ends " + ANSWER
    result = check(text, mode="keep")
    assert codes(result) == ["think.unclosed"]
    assert spanned(text, result.verdicts[0]) == text


def test_keep_mode_reports_a_stray_close_as_malformed_and_names_the_rule():
    text = "plan</think>\n\n" + ANSWER
    result = check(text, mode="keep")
    assert codes(result) == ["think.malformed"]
    assert "without an opening" in result.verdicts[0].message
    assert spanned(text, result.verdicts[0]) == "plan</think>"


def test_keep_mode_never_changes_the_sample():
    s = sample("text <think>a</think> <think>b</think>")
    result = ThinkingValidator(ThinkingConfig(mode="keep")).check(s)
    assert result.sample is s
    assert sorted(set(codes(result))) == ["think.malformed"]
    assert len(result.verdicts) == 3  # two blocks, text before, no answer after
