"""Set-level checks: duplicates (exact and near), shared system prompts, template collapse, refusal
share and diversity, streamed record by record."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from synthgate.schemas.adapters import to_sample
from synthgate.schemas.chain_config import SetConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.sets import SetChecker, is_refusal

ANSWER = (
    "The quarterly report shows revenue grew by twelve percent, driven mainly by subscription sales in "
    "Europe and a recovering hardware segment in North America, while operating costs stayed flat and "
    "the company kept its full-year guidance unchanged despite currency headwinds."
)
OTHER = (
    "Tomatoes need at least six hours of direct sunlight, deep watering twice a week and a layer of "
    "compost; pinch off suckers early, stake the plants before they flower, and harvest when the fruit "
    "turns fully red but still feels firm to the touch in the late summer."
)
VOCAB = [f"w{i}" for i in range(5000)]


def rec(
    completion: str,
    prompt: str = "What does the report say?",
    system: str | None = None,
    task: str | None = None,
) -> Sample:
    return Sample(
        system_prompt=system,
        prompt=[Message(role="user", content=prompt)],
        completion=completion,
        task_type=task,
    )


def run(records: list[Sample], indexes: list[int] | None = None, **config):
    checker = SetChecker(SetConfig(**config))
    for i, sample in zip(indexes or range(len(records)), records, strict=True):
        checker.observe(i, sample)
    return checker.finish()


def codes(verdicts: dict) -> dict[int, list[str]]:
    return {i: [v.code for v in vs] for i, vs in verdicts.items()}


def findings_by_code(findings: list) -> dict:
    out: dict = {}
    for f in findings:
        out.setdefault(f.code, []).append(f)
    return out


def test_exact_duplicate_record_flags_only_the_later_copy_by_its_index():
    records = [rec(ANSWER), rec(OTHER, "Gardening?"), rec(ANSWER)]
    verdicts, _ = run(records, indexes=[0, 4, 9])
    assert codes(verdicts) == {9: ["dup.exact_record"]}
    v = verdicts[9][0]
    assert "record 0" in v.message
    assert (v.span.field, v.span.start, v.span.end) == ("completion", 0, len(ANSWER))


def test_normalization_ignores_case_punctuation_and_whitespace():
    variant = ANSWER.upper().replace(",", " ,").replace(" ", "  ")
    verdicts, _ = run([rec(ANSWER), rec(variant)])
    assert codes(verdicts) == {1: ["dup.exact_record"]}


def test_same_prompt_other_answer_is_exact_prompt_and_same_answer_other_prompt_is_exact_completion():
    prompt = "Summarise the quarterly report for an investor."
    verdicts, _ = run([rec(ANSWER, prompt), rec(OTHER, prompt), rec(ANSWER, "Another question entirely?")])
    assert codes(verdicts) == {1: ["dup.exact_prompt"], 2: ["dup.exact_completion"]}
    span = verdicts[1][0].span
    assert (span.field, span.start, span.end) == ("prompt", 0, len(prompt))
    assert "record 0" in verdicts[1][0].message and "record 0" in verdicts[2][0].message


def test_different_system_prompt_makes_exact_prompt_and_completion_not_exact_record():
    verdicts, _ = run([rec(ANSWER, system="Be brief."), rec(ANSWER, system="Be thorough.")])
    assert codes(verdicts) == {1: ["dup.exact_prompt", "dup.exact_completion"]}


def test_near_duplicate_with_one_word_edit_is_caught_with_score_and_earlier_index():
    edited = ANSWER.replace("recovering", "rebounding")
    verdicts, _ = run(
        [rec(ANSWER, "Q one?"), rec(OTHER, "Q two?"), rec(edited, "Q three?")], indexes=[3, 5, 8]
    )
    assert codes(verdicts) == {8: ["dup.near_completion"]}
    v = verdicts[8][0]
    assert v.score is not None and 92 <= v.score < 100
    assert "record 3" in v.message
    assert (v.span.field, v.span.end) == ("completion", len(edited))


def test_near_duplicate_prompt_is_caught():
    prompt = "Context: " + ANSWER + "\nQuestion: how did revenue change?"
    reworded = prompt.replace("how did revenue", "how did the revenue")
    verdicts, _ = run([rec("Up 12%.", prompt), rec("It rose.", reworded)])
    assert codes(verdicts) == {1: ["dup.near_prompt"]}
    assert verdicts[1][0].span.field == "prompt"


def test_unrelated_text_of_similar_length_is_not_a_near_duplicate():
    assert abs(len(ANSWER) - len(OTHER)) < 20
    verdicts, findings = run([rec(ANSWER, "Q one?"), rec(OTHER, "Q two?")])
    assert verdicts == {}
    assert findings == []


def test_duplicate_share_above_limit_raises_set_finding():
    records = [rec(ANSWER, "Q one?"), rec(ANSWER, "Q two?"), rec(OTHER, "Q three?"), rec(OTHER, "Q four?")]
    _, findings = run(records, max_near_duplicate_share=0.25)
    (finding,) = findings_by_code(findings)["set.near_duplicate_share"]
    assert (finding.count, finding.share) == (2, 0.5)
    assert finding.details["by_code"] == {"dup.exact_completion": 2}


def test_fully_shared_system_prompt_raises_finding_requiring_completion_only_loss():
    system = "You are a careful analyst. Answer only from the provided context and never speculate. " * 2
    records = [rec(f"Answer number {i} about topic {i}.", f"Question {i}?", system=system) for i in range(10)]
    _, findings = run(records)
    (finding,) = findings_by_code(findings)["set.shared_system_prompt"]
    assert (finding.count, finding.share) == (10, 1.0)
    assert finding.details["prompt_head"] == system[:80]
    assert "completion-only loss is required" in finding.message


def test_varied_system_prompts_raise_no_shared_prompt_finding():
    records = [rec(f"Answer {i}.", f"Question {i}?", system=f"Persona {i}.") for i in range(10)]
    _, findings = run(records)
    assert "set.shared_system_prompt" not in findings_by_code(findings)


def varied_completion(rng: random.Random, opening: str = "") -> str:
    return opening + " ".join(rng.choice(VOCAB) for _ in range(40)) + "."


def test_thirty_completions_opening_with_the_same_words_raise_template_collapse():
    rng = random.Random(1)
    opening = "Based on the provided context, "
    records = [rec(varied_completion(rng, opening), f"Q{i}?", task="grounded") for i in range(30)]
    records += [rec(varied_completion(rng), f"S{i}?", task="synthesis") for i in range(30)]
    _, findings = run(records)
    (finding,) = findings_by_code(findings)["set.template_collapse"]
    assert finding.details == {
        "task_type": "grounded",
        "opening": "based on the provided context",
        "count": 30,
        "records": 30,
    }
    assert (finding.count, finding.share) == (30, 1.0)


def test_varied_openings_raise_no_template_collapse():
    rng = random.Random(2)
    records = [rec(varied_completion(rng), f"Q{i}?", task="grounded") for i in range(30)]
    _, findings = run(records)
    assert "set.template_collapse" not in findings_by_code(findings)


def test_template_collapse_is_not_judged_below_min_records():
    rng = random.Random(3)
    records = [rec(varied_completion(rng, "In short, the answer is "), f"Q{i}?") for i in range(19)]
    _, findings = run(records)
    assert "set.template_collapse" not in findings_by_code(findings)


REFUSAL = "The provided context does not contain enough information to answer this question."


def test_refusal_share_outside_the_configured_range_raises_per_task_type():
    rng = random.Random(4)
    records = [rec(REFUSAL + f" ({i})", f"G{i}?", task="grounded") for i in range(5)]
    records += [rec(varied_completion(rng), f"H{i}?", task="grounded") for i in range(15)]
    records += [
        rec(f"I'm sorry, but I cannot answer question {i}.", f"R{i}?", task="refusal") for i in range(10)
    ]
    _, findings = run(records, refusal_share={"grounded": (0.0, 0.1), "refusal": (0.8, 1.0)})
    (finding,) = findings_by_code(findings)["set.refusal_share"]
    assert (finding.details["task_type"], finding.count, finding.share) == ("grounded", 5, 0.25)
    assert finding.details["shares"] == {"grounded": 0.25, "refusal": 1.0, "*": 0.5}
    assert "expected 0% to 10%" in finding.message


def test_refusal_share_star_judges_all_records():
    records = [rec(REFUSAL + f" ({i})", f"Q{i}?") for i in range(3)] + [rec(ANSWER, "Q?")]
    _, findings = run(records, refusal_share={"*": (0.0, 0.5)})
    (finding,) = findings_by_code(findings)["set.refusal_share"]
    assert (finding.details["task_type"], finding.count, finding.share) == ("*", 3, 0.75)
    assert finding.details["shares"]["(none)"] == 0.75


@pytest.mark.parametrize(
    "text",
    [
        REFUSAL,
        "This is not mentioned in the provided context.",
        "The documents don't specify the price.",
        "I'm sorry, but I can't help with that.",
        "I cannot answer that from the text.",
        "There is no information about the author.",
        "Unfortunately, the information provided does not include the release date.",
    ],
)
def test_is_refusal_detects_declining_openings(text):
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        ANSWER,
        "The product is not cheap, but it lasts.",
        "It doesn't have side effects.",
        "The warranty information provided covers two years; it does not include shipping.",
        ANSWER + " " + ANSWER + " The context does not mention the dividend.",  # late caveat
    ],
)
def test_is_refusal_ignores_answers_and_late_caveats(text):
    assert not is_refusal(text)


def test_few_distinct_completions_raise_low_diversity_with_both_ratios():
    records = [rec(ANSWER if i % 2 else OTHER, f"Question {i}?") for i in range(10)]
    _, findings = run(records)
    (finding,) = findings_by_code(findings)["set.low_diversity"]
    assert finding.details == {
        "distinct_completions": 2,
        "distinct_prompts": 10,
        "distinct_completion_ratio": 0.2,
        "distinct_prompt_ratio": 1.0,
    }


def distinct_records(n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    return [
        Sample(
            prompt=[Message(role="user", content=" ".join(rng.choices(VOCAB, k=12)) + "?")],
            completion=" ".join(rng.choices(VOCAB, k=150)) + ".",
        )
        for _ in range(n)
    ]


def edit_one_word(text: str) -> str:
    words = text.split(" ")
    words[len(words) // 2] = "changed"
    return " ".join(words)


def test_twenty_thousand_distinct_records_have_no_false_dups_and_a_planted_near_dup_is_found():
    records = distinct_records(20_000, seed=5)
    planted = rec(edit_one_word(records[7].completion), "A brand new question?")
    records[19_990] = planted
    verdicts, findings = run(records)
    assert codes(verdicts) == {19_990: ["dup.near_completion"]}
    assert "record 7" in verdicts[19_990][0].message and verdicts[19_990][0].score > 99
    assert findings == []


def test_candidate_older_than_the_text_cache_is_accepted_on_minhash_agreement():
    # ~0.9 KB per record: trimming the cache to 1 MB after the first batch of 2,048 drops record 3.
    records = distinct_records(2_600, seed=6)
    records[2_599] = rec(edit_one_word(records[3].completion), "Fresh question?")
    verdicts, _ = run(records, near_duplicate_cache_mb=1)
    assert codes(verdicts) == {2_599: ["dup.near_completion"]}
    v = verdicts[2_599][0]
    assert v.score is None
    assert "record 3" in v.message and "no longer held" in v.message


# --- precision on symbols, RAG prompts and templates (false-positive traps) ---------------------

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def test_two_symbol_puzzles_are_different_prompts():
    # Dropping punctuation made both "solve" before: one dup.exact_prompt on two different puzzles.
    puzzles = ["Solve the cipher: #@! = !#", "Solve the cipher: %^& = &%"]
    verdicts, findings = run([rec(ANSWER, puzzles[0]), rec(OTHER, puzzles[1])])
    assert verdicts == {}
    assert findings == []


def test_code_prompts_differing_in_one_operator_are_not_exact_duplicates():
    loop = "Why does `for (int i = 0; i <= n; i++) sum += a[i];` read past the end of the array?"
    verdicts, _ = run([rec(ANSWER, loop), rec(OTHER, loop.replace("i <= n", "i < n"))])
    assert "dup.exact_prompt" not in [c for cs in codes(verdicts).values() for c in cs]


def test_case_and_sentence_punctuation_still_make_an_exact_prompt_duplicate():
    verdicts, _ = run([rec(ANSWER, "What is LoRA, exactly?"), rec(OTHER, "what is lora exactly")])
    assert codes(verdicts) == {1: ["dup.exact_prompt"]}


def demo_records() -> list[tuple[str, Sample]]:
    out = []
    for line in (REPO / "demo" / "data" / "poisoned_rag.jsonl").read_text().splitlines():
        record = json.loads(line)
        out.append((record["id"], to_sample(record, "messages")))
    return out


def test_rag_prompts_sharing_a_passage_but_asking_other_questions_are_not_near_duplicates():
    # The shipped demo set: 14 of its 21 records were dup.near_prompt because they share passages.
    records = demo_records()
    verdicts, _ = run([s for _, s in records])
    near = {records[i][0] for i, vs in verdicts.items() for v in vs if v.code == "dup.near_prompt"}
    assert near == {"dup-near"}  # "How does LoRA reduce (the) trainable parameters?"
    at = [rid for rid, _ in records].index("dup-near")
    (v,) = [v for v in verdicts[at] if v.code == "dup.near_prompt"]
    assert "record 1" in v.message and v.span.field == "prompt"


def test_a_passage_prompt_with_an_unlabelled_question_is_judged_on_the_question():
    passage = "Context:\n" + ANSWER
    verdicts, _ = run(
        [
            rec("Twelve.", passage + "\n\nBy how much did revenue grow?"),
            rec("Flat.", passage + "\n\nWhat happened to operating costs?"),
        ]
    )
    assert verdicts == {}


def test_prompts_differing_only_in_numbers_are_one_template_finding_not_per_record_warnings():
    records = [rec(f"{a + b}.", f"What is {a} + {b}?") for a, b in [(3, 5), (7, 2), (11, 4), (6, 6)]]
    verdicts, findings = run(records + [rec("4.", "What is 2 + 2?"), rec("Four.", "What is 2 + 2?")])
    assert codes(verdicts) == {5: ["dup.exact_prompt"]}  # the same question twice is still a duplicate
    (finding,) = findings_by_code(findings)["set.templated_prompts"]
    assert (finding.severity, finding.count, finding.details["templates"]) == ("warn", 5, 1)
    assert finding.details["top"] == [{"example": "What is 7 + 2?", "records": 5}]


def gsm8k() -> list[dict]:
    return [json.loads(line) for line in (DATA / "gsm8k_test_200.jsonl").read_text().splitlines()]


def gsm8k_questions() -> list[str]:
    return [r["question"] for r in gsm8k()]


def test_a_real_word_problem_filled_with_other_numbers_hundreds_of_times_is_one_finding():
    question = gsm8k_questions()[0]  # Janet's ducks lay 16 eggs per day ...
    rng = random.Random(3)
    filled = [re.sub(r"\d+", lambda _: str(rng.randint(2, 99)), question) for _ in range(300)]
    verdicts, findings = run([rec(f"{i}", q) for i, q in enumerate(filled)])
    assert {c for cs in codes(verdicts).values() for c in cs} <= {"dup.exact_prompt"}
    (finding,) = findings_by_code(findings)["set.templated_prompts"]
    assert finding.details["templates"] == 1
    assert finding.count == len(set(filled))  # every distinct filled prompt


def test_a_fixed_template_with_a_swapped_name_is_a_template_not_near_duplicates():
    template = (
        "Write a warm, two-paragraph birthday message for my colleague {name}, who has worked with our "
        "team in the Berlin office for several years and loves hiking in the Alps on weekends."
    )
    names = ["Alice", "Bob", "Charlotte", "Dmitri", "Eve"]
    verdicts, findings = run([rec(f"Dear {n}, ...", template.format(name=n)) for n in names])
    assert verdicts == {}
    (finding,) = findings_by_code(findings)["set.templated_prompts"]
    assert (finding.count, finding.details["templates"]) == (5, 1)


def test_real_distinct_questions_raise_no_template_or_duplicate_findings():
    records = [rec(r["answer"], r["question"]) for r in gsm8k()]
    verdicts, findings = run(records)
    assert verdicts == {}
    assert "set.templated_prompts" not in findings_by_code(findings)


# --- short shared answers: a closer or a one-word answer to another question is not a duplicate --

CLOSER = "You're welcome! If you have any other questions, feel free to ask."
AGE_TURNS = (
    "user: Hi, I was born on 1990-05-15. Can you tell me how old I am today?\n"
    'assistant: <functioncall> {"name": "calculate_age", "arguments": {"birthdate": "1990-05-15"}}\n'
    'tool: {"age": 31}\nassistant: According to my calculations, you are 31 years old today.\n'
    "user: Oh, time flies! Thank you for the information."
)
EMAIL_TURNS = (
    "user: I need to send an email to my boss about the project delay. The subject should be "
    "'Project Delay' and the message should explain that the vendor shipped late.\n"
    'assistant: <functioncall> {"name": "send_email", "arguments": {"to": "boss@company.com"}}\n'
    'tool: {"status": "success"}\nassistant: The email has been sent successfully to your boss.\n'
    "user: Great, thanks a lot for your help!"
)


def test_the_same_closing_line_after_different_conversations_is_not_a_duplicate():
    verdicts, _ = run([rec(CLOSER, AGE_TURNS), rec(CLOSER, EMAIL_TURNS)])
    assert codes(verdicts) == {}


def test_the_same_closing_line_after_the_same_conversation_regenerated_is_still_a_duplicate():
    regenerated = AGE_TURNS.replace("Oh, time flies!", "Wow, time flies!")
    verdicts, _ = run([rec(CLOSER, AGE_TURNS), rec(CLOSER, EMAIL_TURNS), rec(CLOSER, regenerated)])
    assert codes(verdicts) == {2: ["dup.exact_completion"]}
    assert "record 0" in verdicts[2][0].message


def test_a_one_word_answer_to_another_question_is_not_a_duplicate_but_a_long_one_is():
    verdicts, _ = run(
        [
            rec("7", "How many days are in a week?"),
            rec("7", "What is the square root of 49?"),
            rec(ANSWER, "Summarise the report."),
            rec(ANSWER, "What did the chief executive say about guidance?"),
        ]
    )
    assert codes(verdicts) == {3: ["dup.exact_completion"]}


def test_a_request_repeated_without_its_please_is_the_same_prompt():
    verdicts, _ = run(
        [
            rec(ANSWER, "Can you please order a pizza for me?"),
            rec(OTHER, "Can you order a pizza for me?"),
            rec("Glad you are pleased. Which toppings would you like?", "I am pleased with the pizza."),
        ]
    )
    assert codes(verdicts) == {1: ["dup.exact_prompt"]}
    assert "record 0" in verdicts[1][0].message


def test_a_request_asked_again_in_another_framing_is_the_same_prompt():
    # alpaca-libre shapes: the same request behind another instruction verb, "can you", "give me",
    # "the following"/"the given" or an "Answer the following question." preamble
    verdicts, _ = run(
        [
            rec(ANSWER, "Generate a haiku about the ocean."),
            rec(OTHER, "Write a haiku about the ocean."),
            rec("An aging don hands power to his son.", 'Can you summarize the plot of "The Godfather"?'),
            rec("Michael Corleone becomes the head of the family.", 'Summarize the plot of "The Godfather".'),
            rec("Canberra is the capital of Australia.", "What is the capital of Australia?"),
            rec("It is Canberra.", "Answer the following question.\nWhat is the capital of Australia?"),
            rec("Madam, in Eden, I'm Adam.", "Provide me an example of a palindrome."),
            rec("A man, a plan, a canal, Panama!", "Give an example of a palindrome."),
        ]
    )
    assert codes(verdicts) == {
        1: ["dup.exact_prompt"],
        3: ["dup.exact_prompt"],
        5: ["dup.exact_prompt"],
        7: ["dup.exact_prompt"],
    }
    assert "record 0" in verdicts[1][0].message and "record 4" in verdicts[5][0].message


def test_the_same_framing_around_another_request_is_not_a_duplicate():
    # a shared instruction verb or preamble is not a shared request: other topics, other questions
    verdicts, _ = run(
        [
            rec(ANSWER, "Generate a haiku about the ocean."),
            rec(OTHER, "Write a limerick about a cat who learns to fly."),
            rec("Canberra.", "Answer the following question.\nWhat is the capital of Australia?"),
            rec("Buenos Aires.", "Answer the following question.\nWhich city hosted the 1978 final?"),
            rec("Je t'aime.", 'Can you translate the phrase "I love you" into French?'),
            rec("Te quiero.", 'Can you translate the phrase "I love you" into Spanish?'),
        ]
    )
    assert codes(verdicts) == {}


def test_a_framing_word_alone_is_the_whole_prompt_and_stays_as_written():
    verdicts, _ = run([rec(ANSWER, "Can you?"), rec(OTHER, "Will you?")])
    assert codes(verdicts) == {}


def test_a_disclaimer_followed_by_the_answer_is_a_hedge_not_a_refusal():
    # falcon-40b-instruct shapes (AlpacaEval): "As an AI ..., I cannot say for certain. However, <answer>"
    hedge = (
        "As an AI language model, I cannot say for certain if the 5 second rule exists. However, it is a "
        "common belief that food dropped on the floor is safe to eat if it has been there for less than "
        "five seconds. Studies show that bacteria transfer almost at once, so the rule is not accurate, "
        "and it is always best to err on the side of caution with food that touched the floor."
    )
    assert not is_refusal(hedge)
    assert not is_refusal("I'm sorry, but there has been no official news about a release date yet.")


def test_a_disclaimer_that_sends_the_user_elsewhere_or_stops_short_is_still_a_refusal():
    redirect = (
        "I'm sorry, but I cannot provide that information. However, you can try searching online for the "
        "latest news, or check the studio's official website and social media channels, where updates "
        "about the game and its release date are usually published first, along with trailers and other "
        "announcements for players."
    )
    assert is_refusal(redirect)
    assert is_refusal(
        "I'm sorry, but as an AI, I cannot answer that. However, I can help with other queries."
    )


# The shape of Toolformer-style sets (GPTeacher Toolformer): a few hundred characters of the same
# tool description in every prompt, then a one-line task. Written here in that shape (the fetched
# data stays out of git).
TOOL_HEADER = (
    "toolformer: enabled\n"
    "toolformer access: weather, calculator\n"
    "Useful for when you want to get weather information from a forecast service. The input should be "
    "a question in plain language naming the place and the day that the service can answer.\n"
    "weather(querywithlocation)\n"
    "A calculator for arithmetic. Use this when a question needs exact sums, products or powers; the "
    "input should be a single arithmetic expression without words.\n"
    "calculator(expression)\n"
)
TOOL_TASKS = [
    "What's the weather like in New York City today?",
    "Will it rain in Lisbon on Saturday?",
    "What is 17 times 23?",
    "What's the weather like in London and Paris today?",
    "How cold will it get in Oslo tonight?",
    "Add 1,204 and 3,398.",
]


# Another tool list opening the same way, as every record of such a set does: from the third record
# on, "toolformer: enabled" has been seen outside any pair.
WIKI_REC = rec(
    "wikipedia('Mona Lisa')",
    "toolformer: enabled\ntoolformer access: wikipedia\nA wrapper around an encyclopedia. Useful for "
    "questions about people, places and events; the input should be a search query.\n"
    "wikipedia(query)\nWho painted the Mona Lisa?",
)
TOOL_CALLS = [
    "weather('New York City today')",
    "weather('Lisbon Saturday rain')",
    "calculator('17*23')",
    "weather('London today'), weather('Paris today')",
    "weather('Oslo tonight lowest temperature')",
    "calculator('1204+3398')",
]


def tool_rec(task: str, completion: str = ANSWER) -> Sample:
    return rec(completion, TOOL_HEADER + task)


def test_prompts_sharing_a_tool_description_but_asking_other_tasks_are_not_near_duplicates():
    records = [WIKI_REC, *(tool_rec(t, c) for t, c in zip(TOOL_TASKS, TOOL_CALLS, strict=True))]
    checker = SetChecker()
    for i, sample in enumerate(records):
        checker.observe(i, sample)
    verdicts, _ = checker.finish()
    assert verdicts == {}
    # As wholes these prompts are far above the near-duplicate bar: the description is what matched.
    from rapidfuzz import fuzz

    assert fuzz.ratio(TOOL_HEADER + TOOL_TASKS[0], TOOL_HEADER + TOOL_TASKS[3]) > 95


def test_the_same_task_under_the_same_tool_description_is_still_a_near_duplicate():
    # An inserted word, not a swapped one (a swapped word is a filled template, counted apart).
    tasks = [*TOOL_TASKS[:3], "What's the weather like in New York City for today?"]
    calls = [*TOOL_CALLS[:3], "The forecast: weather('NYC today')"]
    verdicts, _ = run([WIKI_REC, *(tool_rec(t, c) for t, c in zip(tasks, calls, strict=True))])
    assert codes(verdicts) == {4: ["dup.near_prompt"]}
    (v,) = verdicts[4]
    assert "record 1" in v.message and v.score is not None and v.score >= 90
    assert (v.span.field, v.span.start, v.span.end) == ("prompt", 0, len(TOOL_HEADER + tasks[3]))


def test_the_same_task_under_the_same_tool_description_twice_stays_an_exact_duplicate():
    records = [WIKI_REC, *(tool_rec(t, c) for t, c in zip(TOOL_TASKS[:2], TOOL_CALLS[:2], strict=True))]
    verdicts, _ = run([*records, tool_rec(TOOL_TASKS[0], "It is sunny: weather('New York City')")])
    assert codes(verdicts) == {3: ["dup.exact_prompt"]}


def test_a_long_prompt_with_one_line_edited_and_no_line_shared_with_other_records_is_a_near_duplicate():
    # Lines shared by the pair alone are not context: nothing else carries them.
    steps = [
        f"Step {n}: {w}"
        for n, w in enumerate(
            [
                "preheat the oven to two hundred degrees",
                "whisk the eggs with sugar until pale",
                "fold in the flour and the melted butter",
                "pour the batter into a lined tin",
                "bake for twenty five minutes",
            ]
        )
    ]
    edited = [*steps[:4], "Step 4: bake for twenty five minutes until golden"]
    verdicts, _ = run(
        [
            rec(ANSWER, "Rewrite these steps as a paragraph:\n" + "\n".join(steps)),
            rec(OTHER, "Rewrite these steps as a paragraph:\n" + "\n".join(edited)),
        ]
    )
    assert codes(verdicts) == {1: ["dup.near_prompt"]}
