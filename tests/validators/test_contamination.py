"""Training records that repeat benchmark items (GSM8K, MT-bench) fail with the item named and the
overlap pointed at; boilerplate a benchmark repeats on every item is not evidence; records shared
with the validation split are found."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from synthgate.audit.contamination_items import load_contamination_items
from synthgate.errors import ConfigError
from synthgate.schemas.adapters import to_sample
from synthgate.schemas.chain_config import ContaminationConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.contamination import (
    ContaminationIndex,
    ContaminationItem,
    ContaminationValidator,
    SplitIndex,
    SplitOverlapValidator,
)
from synthgate.validators.normalize import token_offsets, tokens

DATA = Path(__file__).resolve().parents[1] / "data"
GSM8K = load_contamination_items(DATA / "gsm8k_test_200.jsonl")
JANET = GSM8K[0].text  # "Janet’s ducks lay 16 eggs per day. She eats three for breakfast ..."
JANET_LABEL = (
    'gsm8k_test_200.jsonl record 0 ("Janet’s ducks lay 16 eggs per day. She eats three for breakf…")'
)
INSTRUCTION = "Reason step by step and put your final answer on the last line by itself."


@pytest.fixture(scope="module")
def gsm8k() -> ContaminationValidator:
    config = ContaminationConfig()
    return ContaminationValidator(ContaminationIndex.from_config(GSM8K, config), config)


def sample(*users: str, completion: str = "The answer is 18.") -> Sample:
    turns = []
    for i, text in enumerate(users):
        if i:
            turns.append(Message(role="assistant", content="Noted."))
        turns.append(Message(role="user", content=text))
    return Sample(prompt=turns, completion=completion)


def found(validator, s: Sample) -> list[tuple[str, str, str]]:
    """(code, field, the text the span covers) per verdict."""
    out = []
    for v in validator.check(s).verdicts:
        text = s.completion if v.span.field == "completion" else s.prompt[-1].content
        out.append((v.code, v.span.field, text[v.span.start : v.span.end]))
    return out


def test_tokens_are_lowercased_letter_and_digit_runs_with_both_apostrophes_splitting():
    assert tokens("Janet’s ducks lay 16 eggs_per day!") == tokens("janet's DUCKS lay 16 eggs per day")
    assert tokens("CAFÉ au lait, 2€ — 30%") == ["café".encode(), b"au", b"lait", b"2", b"30"]
    assert tokens("İstanbul") == [b"i", b"stanbul"]  # 'İ'.lower() is 'i' and a combining dot


def test_word_offsets_point_at_each_token_in_real_unicode_text():
    texts = [r["output"] for r in json.loads((DATA / "alpaca_en_demo.json").read_text())]
    texts = [t for t in texts if not t.isascii()] + ["İstanbul’s ΣΟΦΊΑ café—naïve 🚀 x²"]
    assert len(texts) > 50
    for text in texts:
        offsets = token_offsets(text)
        assert [tok for a, b in offsets for tok in tokens(text[a:b])] == tokens(text), text


# --- exact matches ----------------------------------------------------------------------------


def test_gsm8k_question_verbatim_as_the_user_turn_is_an_exact_match_naming_the_item(gsm8k):
    s = sample(JANET)
    (v,) = gsm8k.check(s).verdicts
    assert (v.code, v.score) == ("contam.exact_match", 1.0)
    assert v.message == f"the prompt is eval item {JANET_LABEL}"
    assert (v.span.field, v.span.start, v.span.end) == ("prompt", 0, len(JANET) - 1)  # up to "market"


def test_case_and_punctuation_changes_do_not_hide_an_exact_match(gsm8k):
    changed = JANET.lower().replace("’", "'").replace(".", "").replace("$2", "$ 2")
    assert [f[0] for f in found(gsm8k, sample(changed))] == ["contam.exact_match"]


def test_question_wrapped_in_an_instruction_is_an_exact_containment_with_the_question_as_span(gsm8k):
    s = sample(f"Solve this: {JANET} Show your work.")
    (v,) = gsm8k.check(s).verdicts
    assert v.code == "contam.exact_match"
    assert v.message == f"the prompt contains eval item {JANET_LABEL} (53 words)"
    assert s.prompt[0].content[v.span.start : v.span.end] == JANET[:-1]


# --- n-gram overlap ---------------------------------------------------------------------------


def test_one_13_word_run_shared_with_an_item_in_the_completion_is_ngram_overlap(gsm8k):
    run = "She eats three for breakfast every morning and bakes muffins for her friends"
    completion = f"A related idea: {run}, which is kind of her."
    (v,) = gsm8k.check(sample("Tell me about ducks.", completion=completion)).verdicts
    assert v.code == "contam.ngram_overlap"
    assert v.message == f"the completion shares a 13-word run with eval item {JANET_LABEL}"
    assert (v.span.field, completion[v.span.start : v.span.end]) == ("completion", run)
    assert v.score == pytest.approx(13 / 53)


def test_a_12_word_run_is_not_evidence(gsm8k):
    run = "eats three for breakfast every morning and bakes muffins for her friends"
    assert gsm8k.check(sample("Tell me about ducks.", completion=f"She {run[:-1]}, kindly.")).verdicts == []
    assert gsm8k.check(sample(f"Hens, unlike Janet, {run}.")).verdicts == []


def test_run_in_an_earlier_user_turn_is_reported_with_offsets_into_that_turn(gsm8k):
    first = "Josh buys a house for $80,000 and then puts in $50,000 in repairs. Is that wise?"
    s = sample(first, "Thanks. And what about renting instead?")
    (v,) = gsm8k.check(s).verdicts
    assert v.code == "contam.ngram_overlap"
    assert v.message.startswith("prompt turn 1 of 3 (user) shares a 14-word run with eval item ")
    assert "gsm8k_test_200.jsonl record 2 (" in v.message
    assert first[v.span.start : v.span.end] == "buys a house for $80,000 and then puts in $50,000 in repairs"


def test_mt_bench_first_turn_in_a_prompt_overlaps_the_joined_item():
    items = load_contamination_items(DATA / "mtbench_questions.jsonl")
    config = ContaminationConfig()
    validator = ContaminationValidator(ContaminationIndex.from_config(items, config), config)
    first_turn = json.loads((DATA / "mtbench_questions.jsonl").read_text().splitlines()[0])["turns"][0]
    (v,) = validator.check(sample(first_turn)).verdicts
    assert v.code == "contam.ngram_overlap"
    assert 'mtbench_questions.jsonl record 0 ("Compose an engaging travel blog post' in v.message
    assert (v.span.start, v.span.end) == (0, len(first_turn) - 1)


def test_one_verdict_per_field_and_item_and_at_most_three_per_record(gsm8k):
    s = sample(JANET, completion=f"You asked: {JANET} Let me think.")
    assert [(c, f) for c, f, _ in found(gsm8k, s)] == [
        ("contam.exact_match", "prompt"),
        ("contam.ngram_overlap", "completion"),
    ]
    five = " ".join(item.text for item in GSM8K[:5])
    assert len(gsm8k.check(sample("Summarize these.", completion=five)).verdicts) == 3


def test_short_eval_item_is_found_inside_a_user_turn_from_8_words_on():
    items = [
        ContaminationItem(0, "Name three primary colors used in painting today.", "short.jsonl"),  # 8 words
        ContaminationItem(1, "Which planet is the largest?", "short.jsonl"),  # 5 words
    ]
    validator = ContaminationValidator(ContaminationIndex.build(items), ContaminationConfig())
    turn = "Quick quiz: name three primary colors used in painting today! Then stop."
    (v,) = validator.check(sample(turn)).verdicts
    label = 'short.jsonl record 0 ("Name three primary colors used in painting today.")'
    assert v.message == f"the prompt contains eval item {label} (8 words)"
    assert turn[v.span.start : v.span.end] == "name three primary colors used in painting today"
    assert validator.check(sample("Quick quiz: which planet is the largest? Then stop.")).verdicts == []
    assert [f[0] for f in found(validator, sample("which planet is the LARGEST"))] == ["contam.exact_match"]


def test_index_pickled_into_another_process_still_finds_ngram_runs(tmp_path, gsm8k):
    path = tmp_path / "index.pkl"
    path.write_bytes(pickle.dumps(gsm8k.index))
    script = (
        "import pickle, sys; from synthgate.validators.contamination import ContaminationValidator; "
        "from synthgate.schemas.sample import Message, Sample; "
        "v = ContaminationValidator(pickle.loads(open(sys.argv[1], 'rb').read())); "
        "s = Sample(prompt=[Message(role='user', content='Hi')], completion=sys.argv[2]); "
        "print([x.code for x in v.check(s).verdicts])"
    )
    run = "She eats three for breakfast every morning and bakes muffins for her friends"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # another salt than this process's
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), f"Idea: {run}."], env=env, capture_output=True
    )
    assert out.stdout.decode().strip() == "['contam.ngram_overlap']", out.stderr.decode()


# --- boilerplate and clean records ------------------------------------------------------------


def instructed_items() -> list[ContaminationItem]:
    """GSM8K questions that all end with the same 15-word answer-format instruction."""
    return [
        ContaminationItem(i, f"{it.text} {INSTRUCTION}", "gsm8k_instructed.jsonl")
        for i, it in enumerate(GSM8K[:20])
    ]


def test_instruction_repeated_across_the_benchmark_is_boilerplate_and_not_evidence():
    config = ContaminationConfig()
    index = ContaminationIndex.from_config(instructed_items(), config)
    validator = ContaminationValidator(index, config)
    assert index.boilerplate_ngrams == 3  # the 13-grams of the 15-word sentence
    record = sample(
        f"Write a haiku about autumn leaves. {INSTRUCTION}", completion=f"Leaves fall. {INSTRUCTION}"
    )
    assert validator.check(record).verdicts == []
    # The items themselves are still found.
    assert [f[0] for f in found(validator, sample(f"{JANET} {INSTRUCTION}"))] == ["contam.exact_match"]


def test_without_boilerplate_filtering_the_shared_instruction_would_be_flagged():
    index = ContaminationIndex.build(instructed_items(), boilerplate_df=1000)
    validator = ContaminationValidator(index, ContaminationConfig())
    codes = found(validator, sample(f"Write a haiku about autumn leaves. {INSTRUCTION}"))
    assert codes[0] == ("contam.ngram_overlap", "prompt", INSTRUCTION[:-1])


def test_real_alpaca_records_are_clean_against_gsm8k(gsm8k):
    records = json.loads((DATA / "alpaca_en_demo_50.json").read_text())
    results = [gsm8k.check(to_sample(r, "alpaca")) for r in records]
    assert [r.verdicts for r in results] == [[]] * 50


def test_completion_is_skipped_when_configured():
    config = ContaminationConfig(check_completion=False)
    validator = ContaminationValidator(ContaminationIndex.from_config(GSM8K, config), config)
    assert validator.check(sample("Tell me a story.", completion=JANET)).verdicts == []


def test_index_built_with_another_n_than_the_config_is_refused():
    with pytest.raises(ConfigError, match="built with ngram_words=8, .* config says 13"):
        ContaminationValidator(ContaminationIndex.build(GSM8K, n=8), ContaminationConfig())


def test_span_offsets_stay_right_when_lowercasing_lengthens_a_character():
    text = "İstanbul ferries carry two million riders across the Bosphorus every single working day"
    validator = ContaminationValidator(
        ContaminationIndex.build([ContaminationItem(0, text, "cities.jsonl")]), ContaminationConfig()
    )
    completion = f"Fun fact: {text}!"
    (v,) = validator.check(sample("Tell me about ferries.", completion=completion)).verdicts
    assert completion[v.span.start : v.span.end] == text


# --- train/validation split overlap -----------------------------------------------------------


def alpaca_samples() -> list[Sample]:
    return [to_sample(r, "alpaca") for r in json.loads((DATA / "alpaca_en_demo_50.json").read_text())]


def test_split_overlap_finds_records_shared_by_train_and_valid_and_only_those():
    samples = alpaca_samples()
    train, valid = samples[:30], samples[25:]  # records 25-29 are in both
    validator = SplitOverlapValidator(SplitIndex.build(enumerate(valid), "data/valid.jsonl"))
    flagged = {i: r.verdicts for i, r in enumerate(validator.check_batch(train)) if r.verdicts}
    assert sorted(flagged) == [25, 26, 27, 28, 29]
    (v,) = flagged[27]
    assert v.code == "contam.split_overlap"
    assert v.message == "the prompt and completion match valid.jsonl record 2 (after normalization)"
    assert (v.span.field, v.span.start, v.span.end) == ("prompt", 0, len(train[27].prompt[-1].content))


def test_split_overlap_on_the_prompt_alone_says_the_completion_differs():
    samples = alpaca_samples()
    validator = SplitOverlapValidator(SplitIndex.build(enumerate(samples[40:]), "valid.jsonl"))
    question = samples[41].prompt[0].content.upper() + "!!"
    (v,) = validator.check(sample(question, completion="Something else entirely.")).verdicts
    assert v.code == "contam.split_prompt_overlap" and v.blocks
    assert (
        v.message == "the prompt matches valid.jsonl record 1 (after normalization), with another completion"
    )
    assert validator.check(sample("A prompt in neither split.")).verdicts == []


# --- short and renumbered eval items ------------------------------------------------------------


def short_alpaca_items() -> list[ContaminationItem]:
    """Real short instructions (< 8 words) from the Alpaca slice, numbered as a quiz file numbers them."""
    records = json.loads((DATA / "alpaca_en_demo_50.json").read_text())
    short = [r["instruction"] for r in records if not r["input"] and len(r["instruction"].split()) < 8]
    return [ContaminationItem(i, f"{i + 1}. {text}", "quiz.jsonl") for i, text in enumerate(short)]


@pytest.fixture(scope="module")
def quiz() -> ContaminationValidator:
    return ContaminationValidator(ContaminationIndex.build(short_alpaca_items()), ContaminationConfig())


@pytest.mark.parametrize(
    "turn",
    [
        "2. What are the benefits of exercising?",  # numbered 9 in the eval file
        "Q7: What are the benefits of exercising?",
        '"What are the benefits of exercising?"',
        "(c) what are the BENEFITS of exercising",
    ],
)
def test_a_short_eval_item_renumbered_or_quoted_is_an_exact_match(quiz, turn):
    (v,) = quiz.check(sample(turn)).verdicts
    assert v.code == "contam.exact_match" and "What are the benefits of exercising?" in v.message
    assert turn[v.span.start : v.span.end].lower() == "what are the benefits of exercising"


def test_a_short_eval_item_on_its_own_line_of_a_numbered_quiz_is_found_with_that_line_as_span(quiz):
    turn = "Answer each in one sentence.\n1. Explain what a circuit breaker is.\n2. Name a river in Peru."
    (v,) = quiz.check(sample(turn)).verdicts
    assert v.code == "contam.exact_match" and v.message.startswith("a line of the prompt is eval item")
    assert turn[v.span.start : v.span.end] == "Explain what a circuit breaker is"


@pytest.mark.parametrize(
    "turn",
    [
        "What are the benefits of exercising for people over seventy?",  # a longer, other question
        "Describe a process of making crepes without eggs.",
        "1. Describe\n2. Explain",  # numbered lines too short to be items
        "Generate a rap",  # a prefix of an item is not the item
    ],
)
def test_questions_that_only_share_words_with_short_items_are_not_matches(quiz, turn):
    assert quiz.check(sample(turn)).verdicts == []


def test_numbers_that_are_part_of_the_question_are_kept():
    items = [
        ContaminationItem(0, "2 + 2 = ?", "math.jsonl"),
        ContaminationItem(1, "10 + 5 = ?", "math.jsonl"),
    ]
    validator = ContaminationValidator(ContaminationIndex.build(items), ContaminationConfig())
    assert validator.check(sample("2 + 3 = ?")).verdicts == []
    assert [v.code for v in validator.check(sample("2 + 2 = ?")).verdicts] == ["contam.exact_match"]
    assert validator.check(sample("2 - 2 = ?")).verdicts == []  # the same words, another operator
    assert validator.check(sample("10 * 5 = ?")).verdicts == []
