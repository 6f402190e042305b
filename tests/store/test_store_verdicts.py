"""Verdicts round-trip with spans, and each record's status is derived from them in SQL."""

from __future__ import annotations

from itertools import combinations

from store_helpers import fail, fixed, make_row, new_dataset

from synthgate.schemas.verdict import Span, Verdict, record_status
from synthgate.store import ReportRow, Store


def test_verdicts_round_trip_with_spans_scores_and_order(db_path):
    verdicts = [
        (0, fail("leak.system_prompt_verbatim", span=Span(start=3, end=40), severity="block")),
        (
            0,
            Verdict(
                validator="looping",
                status="fail",
                severity="warn",
                code="loop.repeated_sentence",
                message="said twice",
                span=Span(start=0, end=5, field="reasoning"),
                score=0.93,
            ),
        ),
        (1, fixed("think.stripped")),
    ]
    with Store.open(db_path) as store:
        ds = new_dataset(store)
        store.samples.add_batch(ds, [make_row(0), make_row(1)])
        store.verdicts.add_batch(ds, verdicts[1:])
        store.verdicts.add_batch(ds, verdicts[:1])  # a later batch for an earlier record
    with Store.open(db_path) as store:
        back = store.verdicts.for_dataset(ds)
    # Index order first, then the order the verdicts were added.
    assert back == [verdicts[1], verdicts[0], verdicts[2]]
    assert back[0][1].span == Span(start=0, end=5, field="reasoning") and back[0][1].score == 0.93


def test_for_dataset_filters_by_code_prefix_literally_and_limits(store):
    ds = new_dataset(store)
    store.verdicts.add_batch(
        ds, [(0, fail("leak.system_prompt")), (1, fail("leakXsystem")), (2, fail("loop.extra_qa_pair"))]
    )
    # `_` and `.` are not wildcards: only codes starting with the exact text match.
    assert [i for i, _ in store.verdicts.for_dataset(ds, code_prefix="leak.")] == [0]
    assert [i for i, _ in store.verdicts.for_dataset(ds, code_prefix="loop.extra_")] == [2]
    assert [i for i, _ in store.verdicts.for_dataset(ds, limit=2)] == [0, 1]


def test_report_rows_derive_block_fail_warn_fail_fixed_and_pass(store):
    ds = new_dataset(store)
    store.samples.add_batch(ds, [make_row(i) for i in range(5)])
    store.verdicts.add_batch(
        ds,
        [
            (0, fail("leak.system_prompt", severity="block")),
            (0, fixed("think.stripped")),
            (1, fail("artifact.boilerplate", severity="warn")),
            (2, fixed("think.stripped")),
            (2, fail("pii.email", severity="warn")),
            (2, fixed("think.stripped")),
            (4, fail("loop.repeated_sentence", severity="warn")),
            (4, fail("dup.exact", severity="block")),
        ],
    )
    rows = list(store.report_rows(ds))
    ids = [make_row(i).sample.id for i in range(5)]
    assert rows == [
        ReportRow(0, ids[0], "fail", ["leak.system_prompt", "think.stripped"]),
        ReportRow(1, ids[1], "pass", ["artifact.boilerplate"]),  # a warning alone does not fail
        ReportRow(2, ids[2], "fixed", ["pii.email", "think.stripped"]),
        ReportRow(3, ids[3], "pass", []),
        ReportRow(4, ids[4], "fail", ["dup.exact", "loop.repeated_sentence"]),
    ]
    assert store.status_counts(ds) == {"pass": 2, "fixed": 1, "fail": 2}
    assert store.code_counts(ds) == {
        "think.stripped": 2,  # two records, though record 2 carries it twice
        "artifact.boilerplate": 1,
        "dup.exact": 1,
        "leak.system_prompt": 1,
        "loop.repeated_sentence": 1,
        "pii.email": 1,
    }


def test_unreadable_record_with_a_blocking_input_verdict_reports_fail_without_id(store):
    from synthgate.store import SampleRow

    ds = new_dataset(store)
    store.samples.add_batch(ds, [SampleRow(0, None, None, None, "{not json")])
    store.verdicts.add_batch(ds, [(0, fail("input.malformed"))])
    assert list(store.report_rows(ds)) == [ReportRow(0, None, "fail", ["input.malformed"])]


def test_status_counts_of_an_empty_dataset_are_all_zero(store):
    ds = new_dataset(store)
    assert store.status_counts(ds) == {"pass": 0, "fixed": 0, "fail": 0}
    assert store.code_counts(ds) == {}
    assert list(store.report_rows(ds)) == []


def test_messages_quoting_record_text_are_stored_masked(store):
    key = "sk-" + "proj-" + "Q7rT2vX9kL4mN8pW3zY6bC1dF5gH0jKs"
    ds = new_dataset(store)
    store.samples.add_batch(ds, [make_row(0)])
    store.verdicts.add_batch(ds, [(0, fail("leak.system_prompt_sentence"))])
    leaked = fail("leak.system_prompt_sentence").model_copy(
        update={"message": f'repeats "Token {key}" [rule 2]'}
    )
    store.verdicts.add_batch(ds, [(0, leaked)])
    messages = [v.message for _, v in store.verdicts.for_dataset(ds)]
    assert messages[1] == 'repeats "Token sk-p' + "*" * (len(key) - 6) + 'Ks" [rule 2]'


def test_the_sql_status_of_every_verdict_combination_is_the_python_record_status(store):
    kinds = [fail("leak.system_prompt_verbatim"), fail("pii.email", severity="warn"), fixed("think.stripped")]
    combos = [list(c) for n in range(len(kinds) + 1) for c in combinations(kinds, n)]
    ds = new_dataset(store)
    with store.transaction():
        store.samples.add_batch(ds, [make_row(i) for i in range(len(combos))])
        store.verdicts.add_batch(ds, [(i, v) for i, vs in enumerate(combos) for v in vs])
    assert [r.status for r in store.report_rows(ds)] == [record_status(vs) for vs in combos]
    # none, block, warn, fixed, block+warn, block+fixed, warn+fixed, all three
    expected = ["pass", "fail", "pass", "fixed", "fail", "fail", "fixed", "fail"]
    assert [record_status(vs) for vs in combos] == expected
