"""Real files of every supported kind stream as RawRecords; bad records name file, line and field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset, DatasetDict

from synthgate.audit.readers import RawRecord, count_hint, read_records
from synthgate.errors import InputError
from synthgate.validators.codes import CODES

RECORDS = [
    {
        "id": f"r{i}",
        "messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"A{i}."}],
    }
    for i in range(5)
]


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def good(records: list[RawRecord]) -> list[dict]:
    assert all(r.error is None for r in records), [r.error for r in records if r.error]
    return [r.data for r in records]


# --- JSONL --------------------------------------------------------------------------------


def test_jsonl_streams_records_and_counts_blank_lines_for_line_numbers(tmp_path):
    lines = [json.dumps(r).encode() for r in RECORDS[:3]]
    path = write_jsonl(tmp_path / "d.jsonl", [lines[0], b"", b"   ", lines[1], lines[2]])
    records = list(read_records(path))
    assert good(records) == RECORDS[:3]
    assert [(r.index, r.line) for r in records] == [(0, 1), (1, 4), (2, 5)]


def test_jsonl_malformed_line_is_one_bad_record_naming_file_record_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [json.dumps(RECORDS[0]).encode(), b"", b'{"messages": [}'])
    first, bad = list(read_records(path))
    assert first.data == RECORDS[0]
    assert (bad.index, bad.line, bad.data) == (1, 3, None)
    assert bad.error.code == "input.malformed"
    assert str(bad.error) == f"{path}, record 1: line 3 is not valid JSON: Expecting value (column 15)"


def test_jsonl_non_utf8_line_names_the_line_and_byte_offset(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [b'{"a": "ok"}', b'{"a": "caf\xe9"}', b'{"a": "fine"}'])
    ok, bad, after = list(read_records(path))
    assert (ok.data, after.data) == ({"a": "ok"}, {"a": "fine"})
    assert bad.error.code == "input.not_utf8"
    assert bad.error.record == 1
    assert str(bad.error) == (
        f"{path}, record 1: line 2 is not valid UTF-8: byte 0xe9 at byte offset 10 of the line "
        "(offset 22 in the file)"
    )


def test_jsonl_line_that_is_not_an_object_is_wrong_type(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [b"[1, 2]"])
    (bad,) = list(read_records(path))
    assert bad.error.code == "input.wrong_type"
    assert "line 1 holds an array; each line must hold one JSON object" in str(bad.error)


def test_jsonl_utf8_bom_is_ignored(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [b"\xef\xbb\xbf" + json.dumps(RECORDS[0]).encode()])
    assert good(list(read_records(path))) == RECORDS[:1]


def test_count_hint_counts_jsonl_lines_and_parquet_rows(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [json.dumps(r).encode() for r in RECORDS])
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "d.parquet")
    assert count_hint(path) == 5
    assert count_hint(tmp_path / "d.parquet") == 5
    assert count_hint(tmp_path / "d.csv") is None


# --- JSON ---------------------------------------------------------------------------------


def test_json_array_of_records(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    records = list(read_records(path))
    assert good(records) == RECORDS
    assert [(r.index, r.line) for r in records] == [(i, None) for i in range(5)]


def test_json_object_holding_one_list_under_a_key_reads_that_list(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"version": "1.0", "train": RECORDS}), encoding="utf-8")
    assert good(list(read_records(path))) == RECORDS


def test_json_object_holding_two_lists_is_refused_naming_them(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"train": RECORDS, "test": RECORDS}), encoding="utf-8")
    with pytest.raises(
        InputError, match=r"d\.json: holds an object with lists under 'train', 'test'; expected"
    ):
        read_records(path)


def test_json_array_item_that_is_not_an_object_is_wrong_type(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([RECORDS[0], "oops"]), encoding="utf-8")
    ok, bad = list(read_records(path))
    assert ok.data == RECORDS[0]
    assert bad.error.code == "input.wrong_type"
    assert str(bad.error) == f"{path}, record 1: is a string; a record must be a JSON object"


def test_json_that_does_not_parse_names_line_and_column(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[\n  {"a": 1},\n  {"a": }\n]', encoding="utf-8")
    with pytest.raises(
        InputError, match=r"d\.json: not valid JSON: Expecting value at line 3, column 9"
    ) as e:
        read_records(path)
    assert e.value.code == "input.malformed"


def test_json_lines_saved_as_json_are_read_as_json_lines(tmp_path):
    path = tmp_path / "d.json"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS[:2]) + "\n", encoding="utf-8")
    records = list(read_records(path))
    assert good(records) == RECORDS[:2]
    assert [r.line for r in records] == [1, 2]


# --- Parquet, CSV, datasets ---------------------------------------------------------------


def test_parquet_streams_rows_with_nested_messages(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(RECORDS), path, row_group_size=2)
    records = list(read_records(path))
    assert good(records) == RECORDS
    assert [r.index for r in records] == list(range(5))


def test_csv_rows_become_records_and_json_message_cells_are_parsed(tmp_path):
    path = tmp_path / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "messages"])
        for r in RECORDS[:2]:
            w.writerow([r["id"], json.dumps(r["messages"])])
        w.writerow(["alpaca", ""])
    records = list(read_records(path))
    assert good(records) == [*RECORDS[:2], {"id": "alpaca", "messages": None}]
    assert [r.line for r in records] == [2, 3, 4]


def test_csv_alpaca_with_multiline_cell(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('instruction,input,output\nSay hi.,,"Hi\nthere."\n', encoding="utf-8")
    assert good(list(read_records(path))) == [
        {"instruction": "Say hi.", "input": None, "output": "Hi\nthere."}
    ]


def test_csv_bad_json_cell_and_bad_bytes_name_line_and_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'id,messages\na,"[{""role"": }]"\nb,caf\xe9\n')
    bad_json, bad_bytes = list(read_records(path))
    assert (bad_json.error.code, bad_json.error.field) == ("input.malformed", "messages")
    assert str(bad_json.error).startswith(
        f"{path}, record 0, field 'messages': line 2: the cell is not valid JSON"
    )
    assert (bad_bytes.error.code, bad_bytes.error.field) == ("input.not_utf8", "messages")
    assert "record 1, field 'messages': line 3: not valid UTF-8 at character 3" in str(bad_bytes.error)


def test_datasets_save_to_disk_folder_is_read(tmp_path):
    Dataset.from_list(RECORDS).save_to_disk(str(tmp_path / "ds"))
    assert good(list(read_records(tmp_path / "ds"))) == RECORDS


def test_datasets_dict_uses_the_train_split(tmp_path):
    DatasetDict(
        {"train": Dataset.from_list(RECORDS[:2]), "test": Dataset.from_list(RECORDS[2:])}
    ).save_to_disk(str(tmp_path / "dd"))
    assert good(list(read_records(tmp_path / "dd"))) == RECORDS[:2]


def test_datasets_dict_without_train_lists_its_splits(tmp_path):
    DatasetDict({"validation": Dataset.from_list(RECORDS)}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match="holds the splits validation but no 'train' split"):
        read_records(tmp_path / "dd")


# --- whole-file problems ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["d.jsonl", "d.json", "d.csv", "d.parquet"])
def test_zero_byte_file_is_refused_as_empty_at_once(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(InputError, match=rf"{name}: the file is empty: it holds no records") as e:
        read_records(tmp_path / name)
    assert e.value.code in CODES


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("d.jsonl", "\n\n  \n"),
        ("d.json", "[]"),
        ("d.json", '{"data": []}'),
        ("d.csv", "instruction,output\n"),
    ],
)
def test_file_without_records_is_empty(tmp_path, name, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="the file is empty"):
        list(read_records(tmp_path / name))


def test_empty_parquet_is_empty(tmp_path):
    pq.write_table(
        pa.Table.from_pylist([], schema=pa.schema([("prompt", pa.string())])), tmp_path / "d.parquet"
    )
    with pytest.raises(InputError, match="the file is empty"):
        read_records(tmp_path / "d.parquet")


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jsonl: no such file or folder"):
        read_records(tmp_path / "nope.jsonl")


def test_unknown_extension_names_the_supported_ones(tmp_path):
    (tmp_path / "d.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"unknown file kind '\.txt'; supported: \.jsonl, \.ndjson, \.json, \.parquet, \.csv"
    ):
        read_records(tmp_path / "d.txt")


def test_folder_that_is_not_a_datasets_folder_is_refused(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not a datasets save_to_disk folder"):
        read_records(tmp_path / "plain")


def test_corrupt_parquet_is_refused(tmp_path):
    (tmp_path / "d.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_records(tmp_path / "d.parquet")
