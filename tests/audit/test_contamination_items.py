"""Benchmark files of every kind load as ContaminationItems; the question field is found or named."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgate.audit.contamination_items import load_contamination_items
from synthgate.errors import InputError
from synthgate.validators.contamination import ContaminationItem

DATA = Path(__file__).resolve().parents[1] / "data"
GSM8K = DATA / "gsm8k_test_200.jsonl"
MTBENCH = DATA / "mtbench_questions.jsonl"
GSM8K_ROWS = [json.loads(line) for line in GSM8K.read_text().splitlines()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_gsm8k_question_field_is_detected():
    items = load_contamination_items(GSM8K)
    assert len(items) == 200
    assert items[0] == ContaminationItem(0, GSM8K_ROWS[0]["question"], str(GSM8K))
    assert items[0].text.startswith("Janet’s ducks lay 16 eggs per day.")
    assert items[199].index == 199


def test_mt_bench_turns_are_detected_and_joined():
    items = load_contamination_items(MTBENCH)
    first = json.loads(MTBENCH.read_text().splitlines()[0])
    assert len(items) == 80
    assert items[0].text == "\n".join(first["turns"])
    assert items[0].text.startswith("Compose an engaging travel blog post about a recent trip to Hawaii")
    assert items[0].text.endswith("Rewrite your previous response. Start every sentence with the letter A.")


def test_named_field_is_used_instead_of_detection():
    items = load_contamination_items(GSM8K, field="answer")
    assert items[0].text == GSM8K_ROWS[0]["answer"]


def test_unknown_field_is_an_input_error_naming_file_record_and_keys():
    with pytest.raises(
        InputError, match=r"gsm8k_test_200\.jsonl, record 0, field 'problem_text': .*'question', 'answer'"
    ):
        load_contamination_items(GSM8K, field="problem_text")


def test_record_without_a_question_field_lists_its_keys_and_the_fields_tried(tmp_path):
    path = write_jsonl(tmp_path / "eval.jsonl", [{"question": "What is 2 + 2?"}, {"id": 7, "label": "yes"}])
    with pytest.raises(
        InputError,
        match=r"eval\.jsonl, record 1: no question field found among the keys 'id', 'label'; "
        r"expected one of question, prompt",
    ):
        load_contamination_items(path)


def test_unreadable_eval_record_is_raised_not_skipped(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text('{"question": "ok?"}\n{"question": \n')
    with pytest.raises(InputError, match=r"record 1: line 2 is not valid JSON"):
        load_contamination_items(path)


def test_messages_records_give_their_user_turns(tmp_path):
    record = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "7"},
            {"role": "user", "content": "Another?"},
        ]
    }
    assert (
        load_contamination_items(write_jsonl(tmp_path / "chat.jsonl", [record]))[0].text
        == "Name a prime.\nAnother?"
    )


def test_alpaca_instruction_and_input_are_both_the_question(tmp_path):
    record = {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}
    assert (
        load_contamination_items(write_jsonl(tmp_path / "a.jsonl", [record]))[0].text
        == "Translate to French.\n\nGood morning"
    )


def test_csv_parquet_and_json_give_the_same_items_as_jsonl(tmp_path):
    rows = GSM8K_ROWS[:5]
    with (tmp_path / "g.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["question", "answer"])
        writer.writeheader()
        writer.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "g.parquet")
    (tmp_path / "g.json").write_text(json.dumps(rows))
    expected = [r["question"] for r in rows]
    for name in ("g.csv", "g.parquet", "g.json"):
        assert [it.text for it in load_contamination_items(tmp_path / name)] == expected, name


def test_csv_turns_column_holding_json_is_parsed(tmp_path):
    first = json.loads(MTBENCH.read_text().splitlines()[0])
    with (tmp_path / "mt.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [["question_id", "turns"], [first["question_id"], json.dumps(first["turns"])]]
        )
    assert load_contamination_items(tmp_path / "mt.csv")[0].text == "\n".join(first["turns"])


def test_question_of_the_wrong_type_is_an_input_error(tmp_path):
    path = write_jsonl(tmp_path / "eval.jsonl", [{"question": {"en": "Hi?"}}])
    with pytest.raises(InputError, match=r"record 0, field 'question': must be a string"):
        load_contamination_items(path)
