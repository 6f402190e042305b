"""PairChecker: merging both sides' chain verdicts, pair verdicts and the chosen-refusal share."""

from __future__ import annotations

from synthgate.schemas.chain_config import PreferenceConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.schemas.verdict import Span
from synthgate.validators.base import Result
from synthgate.validators.codes import verdict
from synthgate.validators.preference import PairChecker, side_of

ANSWER = "Hold the reset button on the back for ten seconds, then wait for the light to turn green."


def side(completion: str, *verdicts) -> Result:
    sample = Sample(prompt=[Message(role="user", content="How do I reset it?")], completion=completion)
    return Result(sample, list(verdicts))


def codes(verdicts) -> list[tuple[str, str]]:
    return [(v.validator, v.code) for v in verdicts]


def test_rejected_verdicts_are_renamed_lowered_to_warn_and_summarized():
    leak = verdict("leakage", "leak.system_prompt_verbatim", "x", span=Span(start=0, end=5))
    found = PairChecker().check(side(ANSWER), side("Unplug it.", leak))
    assert codes(found) == [
        ("rejected:leakage", "leak.system_prompt_verbatim"),
        ("pref", "pref.rejected_failed"),
    ]
    assert found[0].severity == "warn" and found[0].span == Span(start=0, end=5)
    assert "leak.system_prompt_verbatim" in found[1].message and found[1].severity == "warn"
    assert [side_of(v) for v in found] == ["rejected", None]


def test_chosen_verdicts_keep_their_severity_and_add_chosen_failed():
    cite = verdict("artifacts", "artifact.citation_marker", "x", span=Span(start=3, end=9))
    found = PairChecker().check(side(ANSWER, cite), side("Unplug it."))
    assert codes(found) == [("artifacts", "artifact.citation_marker"), ("pref", "pref.chosen_failed")]
    assert all(v.blocks for v in found) and side_of(found[0]) == "chosen"


def test_a_prompt_finding_both_sides_share_is_reported_once_on_the_chosen_side():
    prompt_span = Span(start=0, end=4, field="prompt")
    shared = verdict("artifacts", "artifact.unfilled_placeholder", "x", span=prompt_span)
    found = PairChecker().check(side(ANSWER, shared), side("Unplug it.", shared))
    assert codes(found) == [("artifacts", "artifact.unfilled_placeholder"), ("pref", "pref.chosen_failed")]


def test_warn_only_rejected_verdicts_do_not_make_the_rejected_side_fail():
    boiler = verdict("artifacts", "artifact.boilerplate", "x", span=Span(start=0, end=5))
    found = PairChecker().check(side(ANSWER), side("As an AI language model, unplug it.", boiler))
    assert codes(found) == [("rejected:artifacts", "artifact.boilerplate")]


def test_rejected_failed_follows_a_severity_override():
    loop = verdict("looping", "loop.fragment_loop", "x", span=Span(start=0, end=5))
    checker = PairChecker(severity_overrides={"pref.rejected_failed": "block"})
    found = checker.check(side(ANSWER), side("go go go go go", loop))
    assert found[-1].code == "pref.rejected_failed" and found[-1].blocks


def test_identical_pair_after_whitespace_normalization_scores_100_and_blocks():
    (found,) = PairChecker().check(side(ANSWER), side(ANSWER.replace(" ", "   ", 3) + "  \n\n"))
    assert (found.code, found.score, found.blocks) == ("pref.identical_pair", 100.0, True)
    assert "identical" in found.message


CODE_FIX = (
    "```c\nint sum_to(int n) {\n    int s = 0;\n    for (int i = 0; i <= n; i++) {  // inclusive\n"
    "        s += i;\n    }\n    return s;\n}\n```"
)


def test_code_answers_differing_only_in_comments_and_indentation_are_identical():
    other = CODE_FIX.replace("  // inclusive", "").replace("s += i;", "s  +=  i;  /* add */")
    (found,) = PairChecker().check(side(CODE_FIX), side(other))
    assert (found.code, found.blocks) == ("pref.identical_pair", True)


def test_an_indentation_fix_in_python_is_a_real_edit():
    broken = "```python\nfor x in xs:\n    total += x\nprint(total)\n```"
    fixed = "```python\nfor x in xs:\n    total += x\n    print(total)\n```"
    assert PairChecker().check(side(fixed), side(broken)) == []


def test_a_one_character_code_repair_is_the_preference_signal_not_an_identical_pair():
    # Real code-repair pairs differ by one operator: `i <= n` -> `i < n` (off-by-one fix).
    checker = PairChecker()
    assert checker.check(side(CODE_FIX.replace("i <= n", "i < n")), side(CODE_FIX)) == []
    assert checker.check(side("Use `if x == None:`"), side("Use `if x is None:`")) == []
    assert checker.stats()["identical_pairs"] == checker.stats()["near_identical_pairs"] == 0


def test_a_changed_number_in_prose_is_a_real_edit():
    assert PairChecker().check(side(ANSWER), side(ANSWER.replace("ten seconds", "30 seconds"))) == []


def test_sides_differing_only_in_case_and_punctuation_are_a_near_identical_warning():
    (found,) = PairChecker().check(side(ANSWER), side(ANSWER.upper().replace(",", "")))
    assert (found.code, found.score, found.severity) == ("pref.near_identical_pair", 100.0, "warn")
    assert "differ only in case, punctuation" in found.message


def test_near_identical_prose_at_the_threshold_is_a_warning_with_its_score():
    checker = PairChecker()
    (found,) = checker.check(side(ANSWER), side(ANSWER.replace("ten", "twenty")))
    assert found.code == "pref.near_identical_pair" and 95 <= found.score < 100
    assert (found.severity, found.blocks) == ("warn", False)
    assert checker.stats()["near_identical_pairs"] == 1


def test_pairs_differing_in_substance_are_not_identical():
    assert PairChecker().check(side(ANSWER), side("Unplug it and plug it back in after a minute.")) == []
    strict = PairChecker(PreferenceConfig(identical_threshold=99.5))
    assert strict.check(side(ANSWER), side(ANSWER.replace("ten", "twenty"))) == []


def test_chosen_refusal_is_a_warning_and_its_share_a_set_finding_over_the_limit():
    checker = PairChecker(PreferenceConfig(max_chosen_refusal_share=0.25))
    refusal = "I'm sorry, but I can't help with that."
    found = checker.check(side(refusal), side("Sure: " + ANSWER))
    assert codes(found) == [("pref", "pref.chosen_refusal")] and found[0].severity == "warn"
    assert checker.check(side(ANSWER), side("Unplug it.")) == []
    (finding,) = checker.finish()
    assert (finding.code, finding.count, finding.share) == ("pref.chosen_refusal_share", 1, 0.5)
    assert finding.details == {"pairs": 2, "chosen_refusals": 1, "limit": 0.25}
    assert checker.stats()["chosen_refusal_share"] == 0.5


def test_refusal_share_at_or_under_the_limit_raises_no_finding():
    checker = PairChecker(PreferenceConfig(max_chosen_refusal_share=0.5))
    checker.check(side("I'm sorry, but I can't help with that."), side(ANSWER))
    checker.check(side(ANSWER), side("Unplug it."))
    assert checker.finish() == []
    assert PairChecker().finish() == []  # no pairs at all


def _pair(prompt: str, chosen: str, rejected: str):
    def one(text: str) -> Result:
        return Result(Sample(prompt=[Message(role="user", content=prompt)], completion=text), [])

    return PairChecker().check(one(chosen), one(rejected))


def test_an_nli_answer_picked_from_the_prompts_options_is_not_a_refusal():
    prompt = (
        "Sentence 1: The Carriage Museum shows an opulent life.\n\nSentence 2: The palace was designed by "
        "a french architect.\n -- yes; -- it is not possible to tell; -- no;\n"
        "Is this second sentence entailed by the first sentence?"
    )
    chosen = (
        "-- it is not possible to tell;\n\nIn Sentence 1, there is no information about the architect who "
        "designed the palace. So, we cannot tell if the palace was designed by a French architect based "
        "on Sentence 1."
    )
    assert codes(_pair(prompt, chosen, "-- yes;")) == []


def test_a_refusal_the_prompt_does_not_offer_as_an_option_is_still_a_chosen_refusal():
    prompt = "Is this second sentence entailed by the first? -- yes; -- no;"
    found = _pair(prompt, "I'm sorry, but I can't help with that.", "-- yes;")
    assert codes(found) == [("pref", "pref.chosen_refusal")]


def test_a_small_edit_that_drops_a_name_is_the_preference_signal():
    chosen = (
        "Abdulah Hasanagic is the proud owner of AS Company in Gorazde, a small town located on the banks "
        "of the Drina River, near the border with Serbia, in Eastern Bosnia."
    )
    rejected = chosen.replace(" in Gorazde", "").replace("Eastern", "eastern")
    assert codes(_pair("Translate to English.", chosen, rejected)) == []


def test_a_small_edit_that_keeps_every_name_is_still_near_identical():
    chosen = "The Drina River runs along the border with Serbia, in eastern Bosnia, through a narrow valley."
    rejected = chosen.replace("narrow valley", "narrow valleys")
    assert codes(_pair("Describe the river.", chosen, rejected)) == [("pref", "pref.near_identical_pair")]


def test_a_chosen_side_declaring_a_doable_task_impossible_is_a_chosen_refusal():
    # Llama-2-chat shapes (AlpacaEval): the task declined as "not possible" / "not a feasible ... task"
    for refusal in (
        "Hello! However, I must inform you that it is not possible to create a picture using Braille "
        "letters alone. Braille conveys words, not images.",
        "I'm glad you're interested! However, I must inform you that implementing Timsort in Lean 4 "
        "is not a feasible or safe task.",
    ):
        found = PairChecker().check(side(refusal), side("Sure: " + ANSWER))
        assert codes(found) == [("pref", "pref.chosen_refusal")]


def test_a_chosen_side_pointing_out_a_risk_and_then_answering_is_no_refusal():
    for answer in (
        "I must point out that eating raw flour is not safe, so bake the dough first: " + ANSWER,
        "I must point out that the question contains some assumptions that are not accurate. " + ANSWER,
    ):
        assert PairChecker().check(side(answer), side("Unplug it.")) == []


def test_sides_differing_only_in_case_are_the_signal_when_the_prompt_asks_to_change_case():
    def asked(prompt: str, completion: str) -> Result:
        return Result(Sample(prompt=[Message(role="user", content=prompt)], completion=completion), [])

    task = "Capitalize the sentence: every other letter alternates between lower case and upper case."
    chosen, rejected = "aGiaNt SpIdEr BlOcKs YoUr PaTh.", "A GIANT SPIDER BLOCKS YOUR PATH."
    assert PairChecker().check(asked(task, chosen), asked(task, rejected)) == []
    found = PairChecker().check(asked("Describe the scene.", chosen), asked("Describe the scene.", rejected))
    assert codes(found) == [("pref", "pref.near_identical_pair")]
