"""Compressed files and sharded inputs, on real public records (tests/data/README.md) written to
real gzip/bzip2/xz/zstd files and folders in tmp_path, read through the real readers."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from datasets import Dataset

from synthgate.audit.contamination_items import load_contamination_items
from synthgate.audit.inputs import (
    InputSet,
    compression_of,
    data_suffix,
    file_sha256,
    open_binary,
    resolve_inputs,
    split_of,
)
from synthgate.audit.readers import count_hint, read_records
from synthgate.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"
ALPACA = json.loads((DATA / "alpaca_en_demo_50.json").read_text(encoding="utf-8"))
GSM8K = DATA / "gsm8k_test_200.jsonl"

COMPRESS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda b: zstandard.ZstdCompressor(write_checksum=True).compress(b),
}


def jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def datas(path) -> list[dict]:
    records = list(read_records(path))
    assert all(r.error is None for r in records), [r.error for r in records if r.error]
    return [r.data for r in records]


# --- compression ----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_each_codec_reads_the_same_records_and_lines_as_the_plain_file(tmp_path, ext):
    plain = write(tmp_path / "train.jsonl", jsonl_bytes(ALPACA))
    packed = write(tmp_path / f"train.jsonl{ext}", COMPRESS[ext](plain.read_bytes()))
    a, b = list(read_records(plain)), list(read_records(packed))
    assert [(r.index, r.line, r.data) for r in b] == [(r.index, r.line, r.data) for r in a]
    assert len(b) == 50 and b[0].data == ALPACA[0]


@pytest.mark.parametrize("ext", [".gz", ".zst"])
def test_csv_and_json_arrays_read_through_compression(tmp_path, ext):
    array = write(tmp_path / f"a.json{ext}", COMPRESS[ext](json.dumps(ALPACA[:5]).encode()))
    assert datas(array) == ALPACA[:5]
    rows = "instruction,input,output\n" + "".join(
        f'"{r["instruction"]}","{r["input"]}","{r["output"][:40]}"\n' for r in ALPACA[:3] if '"' not in str(r)
    )
    csv_file = write(tmp_path / f"a.csv{ext}", COMPRESS[ext](rows.encode()))
    assert [r["instruction"] for r in datas(csv_file)] == [
        r["instruction"] for r in ALPACA[:3] if '"' not in str(r)
    ]


def test_gzip_named_jsonl_is_found_by_its_magic_bytes(tmp_path):
    path = write(tmp_path / "train.jsonl", gzip.compress(jsonl_bytes(ALPACA[:4])))
    assert compression_of(path) == "gzip"
    assert datas(path) == ALPACA[:4]


def test_plain_file_has_no_codec_and_the_inner_suffix_names_the_format(tmp_path):
    path = write(tmp_path / "t.jsonl", jsonl_bytes(ALPACA[:1]))
    assert compression_of(path) is None
    assert (data_suffix("train.jsonl.gz"), data_suffix("x.Parquet"), data_suffix("train.gz")) == (
        ".jsonl",
        ".parquet",
        "",
    )


def test_zstd_file_of_several_frames_reads_every_frame(tmp_path):
    c = zstandard.ZstdCompressor()
    blob = c.compress(jsonl_bytes(ALPACA[:3])) + c.compress(jsonl_bytes(ALPACA[3:7]))
    assert datas(write(tmp_path / "t.jsonl.zst", blob)) == ALPACA[:7]


def test_corrupt_gzip_is_refused_naming_the_file_and_codec(tmp_path):
    blob = bytearray(gzip.compress(jsonl_bytes(ALPACA)))
    blob[len(blob) // 2] ^= 0xFF
    path = write(tmp_path / "train.jsonl.gz", bytes(blob))
    with pytest.raises(
        InputError, match=r"train\.jsonl\.gz: is not a valid gzip file: .*corrupt or was cut short"
    ):
        list(read_records(path))


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_truncated_file_of_each_codec_is_refused_not_read_short(tmp_path, ext):
    blob = COMPRESS[ext](jsonl_bytes(ALPACA))
    path = write(tmp_path / f"train.jsonl{ext}", blob[: len(blob) // 2])
    with pytest.raises(InputError, match=rf"train\.jsonl\{ext}: is not a valid \w+ file: .*ended before"):
        list(read_records(path))


def test_file_named_gz_that_is_not_gzip_is_refused(tmp_path):
    path = write(tmp_path / "train.jsonl.gz", jsonl_bytes(ALPACA[:2]))
    with pytest.raises(InputError, match=r"is not a valid gzip file: Not a gzipped file"):
        list(read_records(path))


def test_compressed_parquet_is_refused_with_the_reason(tmp_path):
    pq.write_table(pa.Table.from_pylist(ALPACA[:3]), tmp_path / "t.parquet")
    write(tmp_path / "t.parquet.gz", gzip.compress((tmp_path / "t.parquet").read_bytes()))
    with pytest.raises(
        InputError, match=r"t\.parquet\.gz: is a gzip-compressed Parquet file: Parquet compresses"
    ):
        read_records(tmp_path / "t.parquet.gz")


def test_compressed_file_without_a_data_suffix_says_how_to_name_it(tmp_path):
    path = write(tmp_path / "train.gz", gzip.compress(jsonl_bytes(ALPACA[:1])))
    with pytest.raises(
        InputError, match=r"train\.gz: names no data format before '\.gz'; name it like train\.jsonl\.gz"
    ):
        read_records(path)


def test_open_binary_streams_without_reading_the_whole_file(tmp_path):
    path = write(tmp_path / "t.jsonl.xz", lzma.compress(jsonl_bytes(ALPACA)))
    with open_binary(path) as f:
        assert json.loads(f.readline()) == ALPACA[0]
        assert f.raw.done < len(jsonl_bytes(ALPACA)) * 2  # one buffer, not the whole file


def test_count_hint_is_none_for_compressed_files_and_summed_over_shards(tmp_path):
    gz = write(tmp_path / "a.jsonl.gz", gzip.compress(jsonl_bytes(ALPACA[:3])))
    assert count_hint(gz) is None
    write(tmp_path / "s" / "a.jsonl", jsonl_bytes(ALPACA[:3]))
    write(tmp_path / "s" / "b.jsonl", jsonl_bytes(ALPACA[3:5]))
    assert count_hint(resolve_inputs(tmp_path / "s")) == 5


# --- several files, folders, globs --------------------------------------------------------


def shards(tmp_path: Path, names: list[str], per: int = 10) -> Path:
    """ALPACA split into files named `names` (in that order), compressed by their extension."""
    root = tmp_path / "shards"
    for i, name in enumerate(names):
        data = jsonl_bytes(ALPACA[i * per : (i + 1) * per])
        ext = Path(name).suffix
        write(root / name, COMPRESS[ext](data) if ext in COMPRESS else data)
    return root


def test_folder_of_mixed_codec_shards_reads_as_one_dataset_in_sorted_order(tmp_path):
    root = shards(tmp_path, ["part-0.jsonl.gz", "part-1.jsonl.bz2", "part-2.jsonl", "part-3.jsonl.zst"])
    (root / "README.md").write_text("not data", encoding="utf-8")
    records = list(read_records(root))
    assert [r.data for r in records] == ALPACA[:40]
    assert [r.index for r in records] == list(range(40))  # indexes continue across shards
    assert [(r.shard, r.line, r.row) for r in records[9:12]] == [(0, 10, 9), (1, 1, 0), (1, 2, 1)]


def test_glob_and_several_paths_give_the_same_sorted_shards(tmp_path):
    root = shards(tmp_path, ["b.jsonl", "a.jsonl.gz", "c.jsonl.xz"])
    by_glob = resolve_inputs(str(root / "*.jsonl*"))
    by_list = resolve_inputs([root / "c.jsonl.xz", root / "a.jsonl.gz", root / "b.jsonl"])
    assert by_glob.shards == by_list.shards == (root / "a.jsonl.gz", root / "b.jsonl", root / "c.jsonl.xz")
    assert datas(by_list) == ALPACA[10:20] + ALPACA[:10] + ALPACA[20:30]


def test_glob_matching_nothing_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"the glob '.*\*\.jsonl\.gz' matches no file"):
        resolve_inputs(str(tmp_path / "*.jsonl.gz"))


def test_bad_line_in_the_second_shard_names_that_shard_its_line_and_the_global_record(tmp_path):
    root = shards(tmp_path, ["a.jsonl", "b.jsonl.gz"], per=3)
    write(
        root / "b.jsonl.gz", gzip.compress(jsonl_bytes(ALPACA[3:4]) + b"{broken\n" + jsonl_bytes(ALPACA[4:5]))
    )
    records = list(read_records(root))
    bad = records[4]
    assert (bad.index, bad.shard, bad.line) == (4, 1, 2)
    assert str(bad.error).startswith(f"{root / 'b.jsonl.gz'}, record 4: line 2 is not valid JSON")
    assert records[5].data == ALPACA[4]


def test_bad_record_in_a_second_json_shard_names_its_row_in_the_file(tmp_path):
    write(tmp_path / "s" / "a.json", json.dumps(ALPACA[:2]).encode())
    write(tmp_path / "s" / "b.json", json.dumps([ALPACA[2], "not a record"]).encode())
    bad = list(read_records(tmp_path / "s"))[3]
    assert (
        str(bad.error)
        == f"{tmp_path / 's' / 'b.json'}, record 3: is a string; a record must be a JSON object "
        "(row 1 of the file)"
    )


def test_an_empty_shard_is_refused_before_any_record_is_read(tmp_path):
    root = shards(tmp_path, ["a.jsonl", "b.jsonl"])
    (root / "c.jsonl").write_bytes(b"")
    with pytest.raises(InputError, match=r"c\.jsonl: the file is empty"):
        read_records(root)


def test_sha256_of_several_shards_is_stable_when_the_folder_moves(tmp_path):
    root = shards(tmp_path, ["a.jsonl.gz", "b.jsonl"])
    one = resolve_inputs(root).sha256()
    moved = root.rename(tmp_path / "elsewhere")
    assert resolve_inputs(moved).sha256() == one
    (moved / "b.jsonl").write_bytes(jsonl_bytes(ALPACA[:1]))
    assert resolve_inputs(moved).sha256() != one
    assert resolve_inputs(moved / "a.jsonl.gz").sha256() == file_sha256(moved / "a.jsonl.gz")


# --- hub snapshots and splits -------------------------------------------------------------


def hub(tmp_path: Path) -> Path:
    """A hub snapshot: data/train-0000i-of-00002.parquet and data/test-00000-of-00001.parquet."""
    root = tmp_path / "hub"
    (root / "data").mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: apache-2.0\n---\n", encoding="utf-8")
    (root / ".gitattributes").write_text("*.parquet filter=lfs\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(ALPACA[:10]), root / "data" / "train-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(ALPACA[10:20]), root / "data" / "train-00001-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(ALPACA[20:25]), root / "data" / "test-00000-of-00001.parquet")
    return root


def test_hub_snapshot_reads_the_train_split_by_default_and_another_by_name(tmp_path):
    root = hub(tmp_path)
    train = resolve_inputs(root)
    assert (train.split, [p.name for p in train.shards]) == (
        "train",
        ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"],
    )
    assert datas(train) == ALPACA[:20]
    assert datas(resolve_inputs(root, split="test")) == ALPACA[20:25]
    assert resolve_inputs(root).name == "hub (train)"


def test_hub_metadata_files_are_not_read_as_data(tmp_path):
    root = hub(tmp_path)
    (root / "dataset_infos.json").write_text('{"default": {"splits": {}}}', encoding="utf-8")
    assert [p.name for p in resolve_inputs(root).shards] == [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]


def test_shards_named_like_hub_shards_of_one_non_split_name_are_one_dataset(tmp_path):
    root = shards(tmp_path, ["part-00000-of-00002.jsonl", "part-00001-of-00002.jsonl.gz"])
    inputs = resolve_inputs(root)
    assert (inputs.split, inputs.source) == (None, str(root))
    assert datas(inputs) == ALPACA[:20]


def test_unknown_split_lists_the_splits(tmp_path):
    with pytest.raises(InputError, match=r"hub: has no split 'valid'; its splits are test, train"):
        resolve_inputs(hub(tmp_path), split="valid")


def test_splits_without_train_are_ambiguous_and_listed(tmp_path):
    root = tmp_path / "h"
    write(root / "validation" / "0000.jsonl", jsonl_bytes(ALPACA[:2]))
    write(root / "test" / "0000.jsonl.gz", gzip.compress(jsonl_bytes(ALPACA[2:4])))
    with pytest.raises(InputError, match=r"h: holds the splits test, validation; pick one with --split NAME"):
        resolve_inputs(root)
    assert datas(resolve_inputs(root, split="test")) == ALPACA[2:4]


def test_a_split_in_several_configuration_folders_is_refused(tmp_path):
    root = tmp_path / "gsm"
    for config in ("main", "socratic"):
        write(root / config / "train-00000-of-00001.jsonl", jsonl_bytes(ALPACA[:1]))
    with pytest.raises(InputError, match=r"split 'train' is in several folders \(main, socratic\)"):
        resolve_inputs(root)
    assert resolve_inputs(root / "main").split == "train"


def test_split_files_beside_unnamed_files_are_refused(tmp_path):
    root = tmp_path / "mixed"
    write(root / "train.jsonl", jsonl_bytes(ALPACA[:1]))
    write(root / "extra.jsonl", jsonl_bytes(ALPACA[1:2]))
    with pytest.raises(
        InputError, match=r"holds files of the splits train and files with no split name \(extra\.jsonl\)"
    ):
        resolve_inputs(root)


def test_split_given_for_a_folder_without_splits_is_refused(tmp_path):
    root = shards(tmp_path, ["a.jsonl", "b.jsonl"])
    with pytest.raises(InputError, match=r"--split 'test': the folder's files carry no split names"):
        resolve_inputs(root, split="test")


@pytest.mark.parametrize(
    ("relative", "split"),
    [
        ("data/train-00000-of-00004.parquet", "train"),
        ("data/train_sft-00001-of-00003.parquet", "train_sft"),
        ("test/0000.parquet", "test"),
        ("default/validation/0000.parquet", "validation"),
        ("train.jsonl.gz", "train"),
        ("dev.jsonl", "dev"),
        ("part-00001.jsonl", None),
        ("trainer_logs.jsonl", None),
    ],
)
def test_split_names_follow_the_hub_layout(relative, split):
    assert split_of(Path(relative)) == split


def test_arrow_shards_in_split_folders_are_read(tmp_path):
    root = tmp_path / "arrow"
    for split, rows in (("train", ALPACA[:6]), ("test", ALPACA[6:8])):
        (root / split).mkdir(parents=True)
        table = pa.Table.from_pylist(rows)
        with pa.ipc.new_stream(root / split / "data-00000-of-00001.arrow", table.schema) as w:
            w.write_table(table)
    assert datas(root) == ALPACA[:6]
    assert datas(resolve_inputs(root, split="test")) == ALPACA[6:8]


def test_datasets_dict_folder_takes_the_split_option(tmp_path):
    from datasets import DatasetDict

    DatasetDict(
        {"train": Dataset.from_list(ALPACA[:3]), "test": Dataset.from_list(ALPACA[3:5])}
    ).save_to_disk(str(tmp_path / "dd"))
    assert datas(tmp_path / "dd") == ALPACA[:3]
    assert datas(resolve_inputs(tmp_path / "dd", split="test")) == ALPACA[3:5]


# --- eval sets --------------------------------------------------------------------------------


def test_compressed_sharded_eval_set_names_each_items_file_and_row(tmp_path):
    lines = GSM8K.read_bytes().splitlines(keepends=True)
    write(tmp_path / "ev" / "test-00000-of-00002.jsonl.gz", gzip.compress(b"".join(lines[:100])))
    write(tmp_path / "ev" / "test-00001-of-00002.jsonl.zst", COMPRESS[".zst"](b"".join(lines[100:])))
    items = load_contamination_items(tmp_path / "ev")
    assert [i.text for i in items] == [i.text for i in load_contamination_items(GSM8K)]
    assert (Path(items[103].source).name, items[103].index) == ("test-00001-of-00002.jsonl.zst", 3)


def test_eval_set_hub_folder_with_several_splits_is_refused_not_defaulted_to_train(tmp_path):
    with pytest.raises(InputError, match="holds the splits test, train; pick one"):
        load_contamination_items(hub(tmp_path))


def test_input_set_source_names_specs_and_split(tmp_path):
    s = InputSet(("data/",), (Path("data/train-0.parquet"),), "train")
    assert (s.source, s.name) == ("data/ (split train)", "data (train)")


def test_split_given_for_a_plain_file_is_refused(tmp_path):
    path = write(tmp_path / "train.jsonl", jsonl_bytes(ALPACA[:1]))
    with pytest.raises(InputError, match=r"--split 'test' was given but .*train\.jsonl holds no splits") as e:
        resolve_inputs(path, split="test")
    assert e.value.code == "input.malformed"


def test_one_missing_path_among_several_is_named(tmp_path):
    path = write(tmp_path / "a.jsonl", jsonl_bytes(ALPACA[:1]))
    with pytest.raises(InputError, match=r"b\.jsonl: no such file or folder"):
        resolve_inputs([path, tmp_path / "b.jsonl"])
