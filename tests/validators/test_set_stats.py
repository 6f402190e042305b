"""SetChecker.stats(): diversity reported whether or not a threshold fires."""

from __future__ import annotations

from synthgate.schemas.sample import Message, Sample, SampleMetadata
from synthgate.validators.sets import SetChecker


def rec(prompt: str, completion: str, task: str | None = None, persona: str | None = None) -> Sample:
    return Sample(
        prompt=[Message(role="user", content=prompt)],
        completion=completion,
        task_type=task,
        metadata=SampleMetadata(persona=persona),
    )


def stats(records: list[Sample]) -> dict:
    checker = SetChecker()
    for i, s in enumerate(records):
        checker.observe(i, s)
    checker.finish()
    return checker.stats()


def test_distinct_ratios_count_normalized_exact_matches():
    records = [rec("Hi?", "Hello."), rec("hi", "hello"), rec("Bye?", "Hello!"), rec("Why?", "Because.")]
    s = stats(records)
    assert (s["records"], s["distinct_prompts"], s["distinct_completions"]) == (4, 3, 2)
    assert (s["distinct_prompt_ratio"], s["distinct_completion_ratio"]) == (0.75, 0.5)


def test_top_openings_are_the_five_most_repeated_across_task_types_with_counts():
    records = []
    for k, n in enumerate((7, 6, 5, 4, 3, 2)):
        records += [
            rec(f"q{k}-{i}", f"Opening number {k} here then answer {i}.", task=f"t{i % 2}") for i in range(n)
        ]
    records.append(rec("unique", "A one-off opening that never repeats."))
    top = stats(records)["top_openings"]
    assert [(o["opening"], o["count"]) for o in top] == [
        (f"opening number {k} here then", n) for k, n in enumerate((7, 6, 5, 4, 3))
    ]
    assert top[0]["share"] == 7 / len(records)


def test_openings_seen_once_are_not_listed():
    assert stats([rec("a", "One answer."), rec("b", "Another answer.")])["top_openings"] == []


def test_task_type_and_persona_distributions_appear_only_when_records_carry_them():
    records = [
        rec(f"q{i}", f"a{i}", task="grounded" if i else None, persona=["nurse", "pilot"][i % 2])
        for i in range(4)
    ]
    s = stats(records)
    assert s["task_types"] == {
        "distinct": 2,
        "top": [
            {"label": "grounded", "count": 3, "share": 0.75},
            {"label": "(none)", "count": 1, "share": 0.25},
        ],
    }
    assert s["personas"]["distinct"] == 2
    assert {p["label"]: p["count"] for p in s["personas"]["top"]} == {"nurse": 2, "pilot": 2}
    plain = stats([rec("q", "a")])
    assert "task_types" not in plain and "personas" not in plain


def test_long_tail_of_personas_is_summarized_as_other():
    s = stats([rec(f"q{i}", f"a{i}", persona=f"persona {i}") for i in range(25)])
    assert s["personas"]["distinct"] == 25 and len(s["personas"]["top"]) == 20
    assert s["personas"]["other"] == 5


def test_empty_set_has_zero_ratios():
    s = SetChecker().stats()
    assert (s["records"], s["distinct_completion_ratio"], s["top_openings"]) == (0, 0.0, [])
