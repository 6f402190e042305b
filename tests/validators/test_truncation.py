"""Truncation without finish_reason: a completion whose ending shows a cut (unclosed code block,
a last sentence stopping on "of"/","/no punctuation) is `length.truncated_completion` with the span
of the unfinished part; endings that are complete by shape (code, lists, tables, numbers, URLs,
math, JSON, poems, emoji, quotes) pass. At set level, records at a generation cap many records
share are flagged through the real audit with the real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgate.audit.runner import AuditOptions, audit
from synthgate.schemas.chain_config import ChainConfig, TruncationConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.store import Store
from synthgate.validators.chain import Chain
from synthgate.validators.truncation import TruncationValidator
from synthgate.validators.truncation.caps import CapObserver

DATA = Path(__file__).parents[1] / "data"


def cut(completion: str, **metadata) -> list[tuple[str, str]]:
    s = Sample(prompt=[Message(role="user", content="Go on.")], completion=completion, metadata=metadata)
    return [(v.code, completion[v.span.start : v.span.end]) for v in TruncationValidator().check(s).verdicts]


@pytest.mark.parametrize(
    ("completion", "unfinished"),
    [
        ("Fix:\n```python\ndef f(r):\n    return 2 * r", "```python\ndef f(r):\n    return 2 * r"),
        ("Quetzals were sacred. Its memory serves as a reminder of the importance of",
         "Its memory serves as a reminder of the importance of"),
        ("Start early. Pack water, snacks, a map,", "Pack water, snacks, a map,"),
        ("Preheat the oven. You will need the following:", "You will need the following:"),
        # alpaca_en_demo records 730 and 124: prose stopping without punctuation, even inside a list item
        ("Organic food avoids pesticides. Next time, consider reaching for the organic section – your body",
         "Next time, consider reaching for the organic section – your body"),
        ("7. **Model Evaluation:** Compare the prices. If performance degrades, it may need to be re",
         "If performance degrades, it may need to be re"),
    ],
)  # fmt: skip
def test_a_completion_cut_mid_sentence_or_mid_code_is_flagged_at_its_unfinished_part(
    completion: str, unfinished: str
):
    assert cut(completion) == [("length.truncated_completion", unfinished)]


@pytest.mark.parametrize(
    "completion",
    [
        "```python\ndef area(r):\n    return 3.14 * r * r\n```",
        "def area(r):\n    return 3.14 * r * r",
        "The three largest cities are:\n1. Tokyo\n2. Beijing\n3. Manila",
        "| city | pop |\n|---|---|\n| Tokyo | 37 |\n| Delhi | 32",
        "## Summary\n\nThe results are below.\n\n### Next steps",
        "Paris",
        "42",
        "The answer is 42",
        "Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18.\n#### 18",
        "The documentation is at https://docs.python.org/3/library/re.html",
        "Solve for x. We get $$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$$",
        '{"name": "Bob", "age": 25, "tags": ["a", "b"]}',
        "Roses are red\nViolets are blue\nSugar is sweet\nAnd so are you",
        "Have a wonderful trip and enjoy every moment 🎉",
        'He said: "We will meet again at dawn."',
        "Bring tea, cakes, sandwiches, etc. (and napkins)",
        "Thank you for your order.\n\nBest regards,\nJohn Smith",
        "Get yourself a puppy and experience love like no other. #PuppyLove",
        '"We read to know we are not alone." - C.S. Lewis',
        "Primary colors: red, yellow and blue",
    ],
)
def test_endings_complete_by_their_shape_are_not_truncations(completion: str):
    assert cut(completion) == []


def test_a_known_finish_reason_is_trusted_instead_of_the_text():
    assert cut("It depends on the", finish_reason="stop") == []


def test_real_alpaca_flags_exactly_the_seven_cut_outputs_and_gsm8k_none():
    records = json.loads((DATA / "alpaca_en_demo.json").read_text(encoding="utf-8"))
    v = TruncationValidator()
    flagged = [
        i
        for i, r in enumerate(records)
        if v.check(
            Sample(prompt=[Message(role="user", content=r["instruction"])], completion=r["output"])
        ).verdicts
    ]
    # Checked by eye, all cut: "...it may need to be re" (124), a multiplication table whose code
    # block never closes (179), "...Then we reverse" (269), "...the importance of" (463), "...your
    # body" (730), "...finally boiled over" (782), "...While Bitcoin" (898). Missed: 558, an HTML
    # answer cut inside a <p> (code-shaped lines are not judged as prose).
    assert flagged == [124, 179, 269, 463, 730, 782, 898]
    gsm8k = [json.loads(line) for line in (DATA / "gsm8k_test_200.jsonl").read_text().splitlines()]
    answers = [
        Sample(prompt=[Message(role="user", content=g["question"])], completion=g["answer"]) for g in gsm8k
    ]
    assert [s for s in answers if v.check(s).verdicts] == []


def test_truncation_runs_in_the_default_chain():
    assert "truncation" in ChainConfig().order
    result = Chain(ChainConfig(order=["truncation"])).run(
        Sample(prompt=[Message(role="user", content="Explain.")], completion="First, heat it. Then add the")
    )
    assert [v.code for v in result.verdicts] == ["length.truncated_completion"]


# ---- set level: a shared generation cap -----------------------------------------------------------
def test_records_at_a_round_cap_shared_by_many_are_flagged_and_others_not():
    caps = CapObserver(TruncationConfig(cap_min_records=5))
    for i in range(6):
        caps.observe(i, 512)
    for i, n in enumerate([300, 511, 90, None], start=6):
        caps.observe(i, n)
    found = caps.finish()
    assert [i for i, _ in found] == [0, 1, 2, 3, 4, 5]
    assert {v.code for _, v in found} == {"length.truncated_completion"}
    assert "exactly 512 tokens, like 5 other records" in found[0][1].message


def test_a_round_count_shared_by_few_records_is_chance():
    caps = CapObserver(TruncationConfig(cap_min_records=5))
    for i in range(4):
        caps.observe(i, 256)
    caps.observe(4, 700)
    assert caps.finish() == []


def test_a_pile_up_at_the_sets_largest_count_is_a_cap_even_when_not_round():
    caps = CapObserver(TruncationConfig(cap_min_records=3), max_length=2048)
    for i, n in enumerate([777, 777, 777, 120, 640]):
        caps.observe(i, n)
    assert [i for i, _ in caps.finish()] == [0, 1, 2]
    half = CapObserver(TruncationConfig(cap_min_records=3, max_pileup=False), max_length=2048)
    for i, n in enumerate([1024, 1024, 1024, 2000]):
        half.observe(i, n)
    assert [i for i, _ in half.finish()] == [0, 1, 2]  # half of max_length


def _audit(tmp_path: Path, records: list[dict]) -> dict[int, list[str]]:
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Store.open(tmp_path / "s.duckdb") as store:
        result = audit(path, store, AuditOptions())
        found: dict[int, list[str]] = {}
        for i, v in store.verdicts.for_dataset(result.dataset_id, code_prefix="length.truncated"):
            found.setdefault(i, []).append(v.code)
    return found


def test_audit_flags_records_whose_teacher_token_count_sits_at_a_shared_cap(tmp_path):
    records = [
        {
            "prompt": f"Describe city number {i}.",
            "completion": f"City {i} is large and old.",
            "completion_tokens": n,
        }
        for i, n in enumerate([256] * 5 + [40, 57])
    ]
    assert _audit(tmp_path, records) == {i: ["length.truncated_completion"] for i in range(5)}


def test_audit_counts_tokens_with_the_length_tokenizer_when_the_file_has_no_counts(tmp_path, gemma_tokenizer):
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    texts = [" ".join(words[(i + k) % len(words)] for k in range(60)) + f" {i}." for i in range(5)]
    bodies = []
    for t in texts:  # cut each to exactly 128 tokens of the real tokenizer, as a max_tokens=128 teacher would
        enc = gemma_tokenizer.backend_tokenizer.encode(t * 3, add_special_tokens=False)
        bodies.append(t * 3 if len(enc.ids) <= 128 else (t * 3)[: enc.offsets[128][0]])
    records = [{"prompt": f"Recite list {i}.", "completion": b} for i, b in enumerate(bodies)]
    records.append({"prompt": "Say hi.", "completion": "Hi there, nice to meet you."})
    samples = [
        Sample(prompt=[Message(role="user", content=r["prompt"])], completion=r["completion"])
        for r in records
    ]
    # The length validator reports each completion's count (chat skeleton excluded) in its Result.
    results = Chain(ChainConfig(order=["length"])).run_batch(samples)
    assert [r.completion_tokens for r in results[:5]] == [128] * 5
    assert set(_audit(tmp_path, records)) == {0, 1, 2, 3, 4}


def test_in_a_large_set_round_lengths_shared_by_chance_are_not_caps_but_a_spike_is():
    caps = CapObserver(TruncationConfig())
    index = 0
    for n in range(250, 551):  # 30 records at every length: 300, 400, 500 are round but no spike
        for _ in range(30):
            caps.observe(index, n)
            index += 1
    spike = list(range(index, index + 400))
    for i in spike:  # a max_tokens=512 teacher: 400 more records at exactly 512
        caps.observe(i, 512)
    at_512 = list(range((512 - 250) * 30, (513 - 250) * 30))  # the 30 there by chance look the same
    assert [i for i, _ in caps.finish()] == at_512 + spike


@pytest.mark.parametrize(
    "completion",
    [
        # a letter signed on its last line (gpteacher role play)
        "Together we can shape a better future for all. Yours sincerely, AI",
        "I believe inspiring the next generation is crucial. Yours sincerely, Dr. Jane Goodall",
        "Let us work together for the betterment of all. With respect and hope, Your AI companion",
        # a math answer closing on result lines
        "From the first sentence, x = 4y. So you are 16 years old.\n\nTherefore:\n\nYou: 16 years old\n"
        "Your sister: 4 years old",
    ],
)
def test_signed_letters_and_result_lines_end_complete(completion: str):
    assert cut(completion) == []


@pytest.mark.parametrize(
    ("completion", "unfinished"),
    [
        ("We met in the park. I love cooking, and it is", "I love cooking, and it is"),
        ("He left early. Note: the meeting was moved to the", "Note: the meeting was moved to the"),
    ],
)
def test_a_sign_off_or_label_shape_ending_on_a_dangling_word_is_still_cut(completion: str, unfinished: str):
    assert cut(completion) == [("length.truncated_completion", unfinished)]


@pytest.mark.parametrize(
    "completion",
    [
        # multiple-choice rationales (AQuA-RAT shape) closing on the option letter, however spelt
        "Let x be the price.\n0.78x - 20 = x/2 + 1.9\nx = 78.20\nAnswer : A",
        "9 = 3*3 and 12 = 3*4, so the number needs 3*3*4.\n36 has these factors\nAnswer is A",
        "Total salary required = 1000\nSales needed = 1000/25 = 40\nCorrect option: A",
        "The time spent is 4 + 4 = 8 hours.\nTotal distance is M + N\nThus A",
        "log2 4 = 2.\nAnswer: Option A",
        # items numbered inside one line (alpaca-libre shape)
        "1. Repetition 2. Visualization 3. Active recall 4. Chunking 5. Association",
        "1. Russia 2. Canada 3. China 4. United States 5. Brazil",
        # a sentence reversed word by word, as the prompt asked
        "dog lazy the over jumps fox brown quick The",
    ],
)
def test_an_option_letter_or_an_inline_numbered_list_ends_complete(completion: str):
    assert cut(completion) == []


@pytest.mark.parametrize(
    ("completion", "unfinished"),
    [
        # lowercase articles still dangle, and so does a capital one opening a new sentence
        ("Here are the steps. It is one of the best ways to get a", "It is one of the best ways to get a"),
        ("Mix the flour and eggs well. Then fold it in gently. The", "The"),
        ("1. Buy milk. Then walk home and look for the", "Then walk home and look for the"),
    ],
)
def test_a_cut_article_is_still_flagged_next_to_the_option_letter_rule(completion: str, unfinished: str):
    assert cut(completion) == [("length.truncated_completion", unfinished)]


@pytest.mark.parametrize(
    "completion",
    [
        # short shell scripts whose last line is a command (GPTeacher Codegen shape)
        "#!/bin/bash\n\nfind . -type f -mtime -7 -print\nfind . -type d -mtime -7 -print",
        "#!/bin/bash\n\nfind . -type f -name '*.txt' -print",
        "#!/bin/sh\n\na=$1\nb=$2\n\nwhile [ $b -ne 0 ]; do\n    remainder=$((a % b))\n    a=$b\n"
        "    b=$remainder\ndone\n\necho 'GCD:' $a",
        # the same commands without a shebang: an option or a shell variable makes the line code
        "Run this from the project root:\n\nfind . -name '*.log' -delete",
        "Print it like this. Then run:\necho The total is $total",
    ],
)
def test_a_script_ending_on_a_command_is_not_a_cut_sentence(completion: str):
    assert cut(completion) == []


@pytest.mark.parametrize(
    ("completion", "unfinished"),
    [
        # a shebang never hides an unclosed fence; prose after a command line is still prose
        ("#!/bin/bash\n```bash\nfind . -print\n", "```bash\nfind . -print"),
        (
            "Run find . -print first. Then open the report and look for the",
            "Then open the report and look for the",
        ),
    ],
)
def test_code_signs_leave_unclosed_fences_and_cut_prose_flagged(completion: str, unfinished: str):
    assert cut(completion) == [("length.truncated_completion", unfinished)]
