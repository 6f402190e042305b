"""Narrated instructions in other words: a first-person sentence restating two or more rules of the
system prompt is `leak.system_prompt_paraphrase` at that sentence; answers sharing the rules'
vocabulary (refusals, "according to the passage", section citations) stay clean."""

from __future__ import annotations

import pytest
from narration_cases import CLEAN, NARRATIONS, PASSAGES, SUPPORT

from synthgate.schemas.sample import Message, Sample
from synthgate.validators.leakage import LeakageValidator


def leaks(system: str, completion: str) -> list[tuple[str, str]]:
    s = Sample(
        system_prompt=system,
        prompt=[Message(role="user", content="What do they say?")],
        completion=completion,
    )
    return [(v.code, completion[v.span.start : v.span.end]) for v in LeakageValidator().check(s).verdicts]


def test_the_issue_example_leaks():
    completion = (
        "As the rules require, I answer only from the given passages, naming the source of each point, "
        "in plain prose. The bridge opened in 1932 (city archive)."
    )
    # Its words run verbatim through two rules, so it is the stronger code.
    assert leaks(PASSAGES, completion) == [
        (
            "leak.system_prompt_verbatim",
            completion[completion.index("answer only") : completion.index(" The bridge")],
        )
    ]


@pytest.mark.parametrize(("system", "completion"), NARRATIONS)
def test_every_narration_of_two_or_more_rules_leaks(system: str, completion: str):
    found = leaks(system, completion)
    assert [c for c, _ in found] and all(c.startswith("leak.") for c, _ in found)


@pytest.mark.parametrize(("system", "completion"), CLEAN)
def test_answers_sharing_rule_vocabulary_do_not_leak(system: str, completion: str):
    assert leaks(system, completion) == []


def test_restating_rules_in_other_words_is_caught_where_the_phrase_list_has_no_trigger():
    # No "instructed"/"my guidelines"/"system prompt": found by the rules it restates.
    completion = "Hello! My answer uses only the given passages and names the source of every point."
    ((code, span),) = leaks(PASSAGES, completion)
    assert code == "leak.system_prompt_paraphrase" and span == completion[len("Hello! ") :]


def test_a_refusal_restating_one_rule_by_doing_it_is_clean():
    assert leaks(SUPPORT, "I don't have enough information in the context to answer that.") == []
    assert leaks(SUPPORT, "The provided context does not contain enough information to answer.") == []


def test_the_narration_set_measures_full_recall_and_precision():
    caught = sum(bool(leaks(s, c)) for s, c in NARRATIONS)
    false = sum(bool(leaks(s, c)) for s, c in CLEAN)
    assert (len(NARRATIONS), len(CLEAN)) == (33, 34)
    # Before this check: 24 of 33 caught (recall 0.73), 0 false positives.
    assert (caught, false) == (33, 0)
