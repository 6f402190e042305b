"""The outcome experiment's set builder: defects planted at the stated rates, eval items held out, and
synthgate's real audit (a DuckDB store, the embedded tokenizer) flagging every planted defect while
the clean records pass. No training here: benchmarks/outcome.py does that.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from synthgate.audit.report import write_report
from synthgate.audit.runner import AuditOptions, audit
from synthgate.schemas import Message, Sample
from synthgate.store import Store
from synthgate.validators.chain import Chain

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import outcome_data as data  # noqa: E402


@pytest.fixture(scope="module")
def built():
    return data.build_sets(150, 48, seed=0)


def test_each_defect_is_planted_at_its_stated_share_of_the_answerable_records(built):
    answerable = [r for r in built.train if r["task_type"] == "grounded"]
    counts = built.defect_counts()
    assert len(built.train) == 150
    assert sum(r["task_type"] == "refusal" for r in built.train) == round(data.REFUSAL_SHARE * 150) == 30
    for defect, rate in data.DEFECT_RATES.items():
        assert counts[defect] == round(rate * len(answerable)), defect
    planted = sum(counts[d] for d in data.DEFECT_RATES)
    assert counts["clean"] == len(built.train) - planted
    assert {r["defect"] for r in built.train if r["task_type"] == "refusal"} == {"clean"}


def test_every_record_carries_the_one_shared_system_prompt(built):
    assert {r["messages"][0]["content"] for r in built.train} == {data.SYSTEM_PROMPT}
    assert {i["system_prompt"] for i in built.eval_items} == {data.SYSTEM_PROMPT}


def test_planted_text_is_the_seeds_shape(built):
    def answers(defect):
        return [r["messages"][-1]["content"] for r in built.train if r["defect"] == defect]

    assert all(a.startswith(data.SYSTEM_PROMPT + "\n\n") for a in answers("sys_open"))
    assert all(any(a.startswith(n + " ") for n in data.NARRATIONS) for a in answers("sys_narrate"))
    assert all(a.count("\nQuestion: ") == 2 and a.count("\nAnswer: ") == 2 for a in answers("qa_tail"))
    assert all(a.endswith(". 0") and a.count(". 0") >= 12 for a in answers("repeat"))
    assert all(a.startswith("<think>") and "</think>\n\n" in a for a in answers("think_instr"))


def test_eval_items_share_no_source_record_or_context_with_training(built):
    def context(user_turn):
        return user_turn.split("\n\nQuestion: ")[0].removeprefix("Context:\n")

    train_contexts = {context(r["messages"][1]["content"]) for r in built.train}
    train_sources = {r["source_index"] for r in built.train}
    assert len(built.eval_items) == 48
    assert sum(i["task_type"] == "refusal" for i in built.eval_items) == round(data.REFUSAL_SHARE * 48)
    assert not {i["context"] for i in built.eval_items} & train_contexts
    assert not {int(i["id"].rsplit("-", 1)[1]) for i in built.eval_items} & train_sources
    grounded = [i for i in built.eval_items if i["task_type"] == "grounded"]
    assert all(i["expected_keywords"] for i in grounded)
    assert all(not i["expected_keywords"] for i in built.eval_items if i["task_type"] == "refusal")


def test_the_same_seed_builds_the_same_sets_and_another_seed_does_not():
    first, again, other = (data.build_sets(40, 10, seed=s) for s in (3, 3, 4))
    assert first.train == again.train and first.eval_items == again.eval_items
    assert first.train != other.train


def test_asking_for_more_records_than_the_source_holds_is_refused():
    with pytest.raises(ValueError, match=r"source records needed, \d+ available"):
        data.build_sets(400, 48)


def test_keywords_are_answer_words_the_context_also_holds():
    rec = data.SourceRecord(
        0,
        "The Nile flows north into the Mediterranean.",
        "Where does it flow?",
        "The Nile flows north into the Mediterranean Sea.",
    )
    assert data.expected_keywords(rec) == ["mediterranean", "flows", "north"]


def test_audit_flags_every_planted_defect_and_passes_every_clean_record(tmp_path, gemma_tokenizer):
    small = data.build_sets(40, 10, seed=1)
    raw = data.write_jsonl(small.train, tmp_path / "raw.jsonl", drop=("defect", "source_index"))
    report = tmp_path / "report.jsonl"
    with Store.open(tmp_path / "s.duckdb") as store:
        result = audit(raw, store, AuditOptions(), chain=Chain(tokenizer=gemma_tokenizer))
        write_report(store, result.dataset_id, report)
    assert "set.shared_system_prompt" in {f.code for f in result.set_findings}
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    for rec, row in zip(small.train, rows, strict=True):
        want = data.EXPECTED_CODES.get(rec["defect"])
        if want is None:
            assert (row["status"], row["codes"]) == ("pass", []), rec["id"]
        else:
            assert any(c.startswith(w) for c in row["codes"] for w in want), (rec["defect"], row["codes"])
            assert row["status"] == ("fixed" if rec["defect"] == "think_instr" else "fail"), rec["id"]
    catch = {d: sum(1 for r in small.train if r["defect"] == d) for d in data.DEFECT_RATES}
    assert all(catch.values())  # every defect is in the small set too


def test_planted_defects_are_found_where_they_were_planted(gemma_tokenizer):
    rec = data.SourceRecord(
        0, "Side 1 = 4, Side 2 = 6", "Find the perimeter.", "The perimeter is 10 units long."
    )
    others = [data.SourceRecord(i, "c", f"Question {i}?", f"Answer number {i}.") for i in range(1, 4)]
    chain = Chain(tokenizer=gemma_tokenizer)

    def verdicts(defect):
        import random

        answer = data.plant(defect, rec.answer, others, random.Random(0))
        sample = Sample(
            system_prompt=data.SYSTEM_PROMPT,
            prompt=[Message(role="user", content=data.user_turn(rec.context, rec.question))],
            completion=answer,
            task_type="grounded",
        )
        return answer, chain.run(sample).verdicts

    answer, found = verdicts("sys_open")
    leak = next(v for v in found if v.code == "leak.system_prompt_verbatim")
    assert leak.span is not None and leak.span.start == 0 and leak.span.end >= len(data.SYSTEM_PROMPT) - 1
    answer, found = verdicts("qa_tail")
    qa = next(v for v in found if v.code == "loop.extra_qa_pair")
    assert qa.span is not None and answer[qa.span.start :].lstrip().startswith("Question:")
    answer, found = verdicts("repeat")
    loop = next(v for v in found if v.code == "loop.fragment_loop")
    assert loop.span is not None and loop.span.start >= len(rec.answer) - 1
    _, found = verdicts("clean")
    assert found == []
