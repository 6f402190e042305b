"""max_length auto: the smallest multiple of 64 holding every record whole, measured on a real export."""

from __future__ import annotations

import pytest
from test_export import clean_records, make_version

from synthgate.models.embedded import load_tokenizer
from synthgate.store import Store
from synthgate.training.budget import choose_max_length, measure_records, round_up
from synthgate.training.export import export
from synthgate.training.sft import read_split


def test_the_budget_is_the_longest_record_rounded_up_to_64_and_never_cuts_a_completion():
    budget = choose_max_length([(100, 30), (20, 300), (50, 50)], skeleton_prompt=12)
    assert (budget.longest, budget.max_length) == (320, 320)
    assert choose_max_length([(100, 30), (20, 301)], skeleton_prompt=12).max_length == 384


def test_smaller_budgets_count_prompt_cuts_apart_from_completions_that_cannot_fit():
    counts = [(400, 100), (300, 150), (100, 40), (60, 300)]
    budget = choose_max_length(counts, skeleton_prompt=10)
    assert budget.max_length == 512
    at = {s.max_length: (s.prompt_truncated, s.completion_over) for s in budget.shortfalls}
    assert at == {448: (2, 0), 384: (2, 0), 256: (2, 1)}
    assert budget.describe()[-1] == (
        "  at max_length 256: 2 record(s) would need prompt truncation, 1 whose completion alone does not fit"
    )


def test_round_up_keeps_exact_multiples():
    assert [round_up(n) for n in (1, 63, 64, 65, 128, 129)] == [64, 64, 64, 128, 128, 192]


def test_no_records_is_an_error_not_a_zero_budget():
    with pytest.raises(ValueError, match="no records to measure"):
        choose_max_length([], skeleton_prompt=10)


def test_auto_length_of_a_real_export_holds_every_record_as_the_trainer_tokenizes_it(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as store:
        vid = make_version(store, tmp_path, clean_records())
        export(store, vid, "trl-jsonl", tmp_path / "export", eval_fraction=0.2)
    rows = read_split(tmp_path / "export" / "train.jsonl") + read_split(tmp_path / "export" / "eval.jsonl")
    tokenizer = load_tokenizer(None)
    budget = measure_records(rows, tokenizer)

    # The whole conversation as TRL renders it: every record fits, the longest decides.
    texts = [tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False) for r in rows]
    full = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]
    assert max(full) <= budget.max_length < max(full) + 64 + 1
    assert abs(budget.longest - max(full)) <= 1  # the audit's split count vs the joint tokenization
    assert budget.max_length % 64 == 0 and budget.records == 20
    assert budget.describe()[0].startswith(f"max_length auto: {budget.max_length} (longest of 20 records is ")
