"""`synthgate audit` on inputs as users store them, through the real CLI and a real DuckDB store:
compressed files (gzip, bzip2, xz, zstd), folders and globs of shards, hub snapshots with --split.
Records are real public data (tests/data/README.md) written to real compressed files in tmp_path."""

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
from typer.testing import CliRunner

from synthgate.audit.inputs import file_sha256
from synthgate.cli.app import app
from synthgate.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
ALPACA = json.loads((DATA / "alpaca_en_demo.json").read_text(encoding="utf-8"))[:60]
GSM8K = DATA / "gsm8k_test_200.jsonl"

COMPRESS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda b: zstandard.ZstdCompressor(write_checksum=True).compress(b),
}

runner = CliRunner()


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(COMPRESS[path.suffix](data) if path.suffix in COMPRESS else data)
    return path


def audit(tmp: Path, *args: str):
    """(result, report lines, summary) of `synthgate audit ARGS` into tmp/s.duckdb."""
    rep, summ = tmp / "report.jsonl", tmp / "summary.json"
    rep.unlink(missing_ok=True)
    summ.unlink(missing_ok=True)
    result = runner.invoke(
        app,
        ["audit", *args, "--db", str(tmp / "s.duckdb"), "--report", str(rep), "--summary", str(summ)],
        catch_exceptions=False,
    )
    rows = [json.loads(line) for line in rep.read_text().splitlines()] if rep.exists() else []
    summary = json.loads(summ.read_text()) if summ.exists() else {}
    return result, rows, summary


def findings(rows: list[dict]) -> list[tuple]:
    return [(r["index"], r["status"], tuple(r["codes"])) for r in rows]


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plain")
    return audit(tmp, str(write(tmp / "train.jsonl", jsonl(ALPACA))))


def test_the_plain_alpaca_slice_has_findings_to_compare(plain):
    result, rows, summary = plain
    assert len(rows) == 60 and summary["status_counts"]["fail"] > 0
    assert summary["shards"] == [
        {
            "path": summary["source"],
            "sha256": file_sha256(Path(summary["source"])),
            "records": 60,
            "first_index": 0,
        }
    ]


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_each_compressed_file_audits_exactly_like_the_plain_file(tmp_path, plain, ext):
    _, plain_rows, plain_summary = plain
    path = write(tmp_path / f"train.jsonl{ext}", jsonl(ALPACA))
    result, rows, summary = audit(tmp_path, str(path))
    assert result.exit_code == 1, result.output
    assert findings(rows) == findings(plain_rows)
    assert [(r["shard"], r["line"]) for r in rows] == [(str(path), i + 1) for i in range(60)]
    assert (summary["status_counts"], summary["codes"]) == (
        plain_summary["status_counts"],
        plain_summary["codes"],
    )
    assert summary["shards"][0]["sha256"] == file_sha256(path)  # the bytes on disk, compressed


def test_gzip_content_under_a_jsonl_name_is_found_by_magic_bytes(tmp_path, plain):
    path = tmp_path / "train.jsonl"
    path.write_bytes(gzip.compress(jsonl(ALPACA)))
    result, rows, _ = audit(tmp_path, str(path))
    assert result.exit_code == 1 and findings(rows) == findings(plain[1])


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """ALPACA in three shards of mixed codecs; shard b holds one broken line (its line 5)."""
    tmp = tmp_path_factory.mktemp("sharded")
    root = tmp / "shards"
    a = write(root / "part-0.jsonl.gz", jsonl(ALPACA[:20]))
    b = write(
        root / "part-1.jsonl.bz2", jsonl(ALPACA[20:24]) + b'{"instruction": "cut off\n' + jsonl(ALPACA[24:40])
    )
    c = write(root / "part-2.jsonl.zst", jsonl(ALPACA[40:]))
    (root / "README.md").write_text("Shards of an alpaca slice.\n", encoding="utf-8")
    return tmp, root, (a, b, c), audit(tmp, str(root), "--skip-invalid")


def test_shards_are_one_dataset_with_indexes_continuing_and_each_line_naming_its_shard(sharded):
    _, _, (a, b, c), (result, rows, _) = sharded
    assert result.exit_code == 1, result.output
    assert [r["index"] for r in rows] == list(range(61))
    where = [(r["shard"], r["line"]) for r in rows]
    assert where[:20] == [(str(a), i) for i in range(1, 21)]
    assert where[20:41] == [(str(b), i) for i in range(1, 22)]
    assert where[41:] == [(str(c), i) for i in range(1, 21)]


def test_skip_invalid_reports_the_bad_line_of_the_second_shard_and_audits_the_rest(sharded, plain):
    tmp, _, (_, b, _), (_, rows, summary) = sharded
    bad = rows[24]
    assert (bad["shard"], bad["line"], bad["status"], bad["codes"]) == (
        str(b),
        5,
        "fail",
        ["input.malformed"],
    )
    good = [r for r in rows if r["index"] != 24]
    # The good records get the codes the single plain file gives them (no shard changes a finding).
    assert [(r["status"], r["codes"]) for r in good] == [(r["status"], r["codes"]) for r in plain[1]]
    with Store.open(tmp / "s.duckdb") as store:
        (v,) = [v for i, v in store.verdicts.for_dataset(summary["dataset_id"]) if i == 24]
    assert v.message.startswith(f"{b}, record 24: line 5 is not valid JSON")


def test_summary_lists_each_shard_with_its_sha256_and_records(sharded):
    tmp, root, (a, b, c), (_, _, summary) = sharded
    assert summary["records"] == 61
    assert summary["shards"] == [
        {"path": str(a), "sha256": file_sha256(a), "records": 20, "first_index": 0},
        {"path": str(b), "sha256": file_sha256(b), "records": 21, "first_index": 20},
        {"path": str(c), "sha256": file_sha256(c), "records": 20, "first_index": 41},
    ]
    with Store.open(tmp / "s.duckdb") as store:
        info = store.datasets.get(summary["dataset_id"])
    assert (info.name, info.source_path) == ("shards", str(root))
    assert info.source_sha256 not in {file_sha256(a), file_sha256(b), file_sha256(c), None}


def test_a_version_of_a_sharded_dataset_keeps_every_readable_record(sharded):
    tmp, _, _, (_, rows, summary) = sharded
    result = runner.invoke(
        app,
        [
            "version",
            "create",
            "shards",
            "--source",
            summary["dataset_id"],
            "--include",
            "pass,fixed,fail",
            "--db",
            str(tmp / "s.duckdb"),
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)  # one JSON document, the id inside it
    assert doc["id"].startswith("v_")
    assert doc["samples"] == 60  # the broken line has no sample


def test_glob_and_a_list_of_files_audit_the_same_dataset_as_the_folder(sharded, tmp_path):
    _, root, (a, b, c), (_, folder_rows, folder_summary) = sharded
    _, glob_rows, glob_summary = audit(tmp_path, str(root / "part-*.jsonl.*"), "--skip-invalid")
    _, list_rows, list_summary = audit(tmp_path, str(c), str(a), str(b), "--skip-invalid")
    assert glob_rows == folder_rows == list_rows  # sorted paths: the order given does not matter
    assert glob_summary["shards"] == folder_summary["shards"] == list_summary["shards"]


def test_bad_line_in_the_second_shard_without_skip_invalid_names_shard_line_and_exits_2(sharded, tmp_path):
    _, root, (_, b, _), _ = sharded
    result, rows, _ = audit(tmp_path, str(root))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"{b}, record 24: line 5 is not valid JSON" in text
    assert rows == []


def test_corrupt_gzip_shard_exits_2_naming_the_file(tmp_path):
    blob = bytearray(gzip.compress(jsonl(ALPACA)))
    blob[len(blob) // 2] ^= 0xFF
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(bytes(blob))
    result, _, _ = audit(tmp_path, str(path))
    assert result.exit_code == 2
    assert "train.jsonl.gz: is not a valid gzip file" in " ".join(result.output.split())


# --- hub snapshots --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub") / "alpaca-snapshot"
    (root / "data").mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: apache-2.0\n---\n", encoding="utf-8")
    for name, rows in (
        ("train-00000-of-00002.parquet", ALPACA[:25]),
        ("train-00001-of-00002.parquet", ALPACA[25:50]),
        ("test-00000-of-00001.parquet", ALPACA[50:]),
    ):
        pq.write_table(pa.Table.from_pylist(rows), root / "data" / name)
    return root


def test_hub_snapshot_audits_the_train_split_by_default(hub, tmp_path):
    result, rows, summary = audit(tmp_path, str(hub))
    assert result.exit_code == 1, result.output
    assert len(rows) == 50 and summary["source"] == f"{hub} (split train)"
    assert [s["records"] for s in summary["shards"]] == [25, 25]
    assert (rows[30]["shard"], rows[30]["line"]) == (str(hub / "data" / "train-00001-of-00002.parquet"), None)


def test_split_option_picks_the_test_split(hub, tmp_path, plain):
    result, rows, summary = audit(tmp_path, str(hub), "--split", "test")
    assert [s["path"] for s in summary["shards"]] == [str(hub / "data" / "test-00000-of-00001.parquet")]
    assert [(r["status"], r["codes"]) for r in rows] == [(r["status"], r["codes"]) for r in plain[1][50:]]


def test_unknown_split_exits_2_listing_the_splits(hub, tmp_path):
    result, _, _ = audit(tmp_path, str(hub), "--split", "validation")
    assert result.exit_code == 2
    assert "has no split 'validation'; its splits are test, train" in " ".join(result.output.split())


# --- eval sets and the validation split, compressed -----------------------------------------


def test_compressed_eval_set_and_compressed_against_split_are_read(tmp_path):
    questions = [json.loads(line)["question"] for line in GSM8K.read_text().splitlines()]
    leak = {"instruction": f"Solve: {questions[3]}", "input": "", "output": "He runs 540 meters a week."}
    shared = ALPACA[1]
    train = write(tmp_path / "train.jsonl.xz", jsonl([ALPACA[0], leak, shared]))
    evals = write(tmp_path / "gsm8k.jsonl.gz", GSM8K.read_bytes())
    valid = write(tmp_path / "valid.jsonl.zst", jsonl([ALPACA[2], shared]))
    result, rows, _ = audit(tmp_path, str(train), "--eval-set", str(evals), "--against", str(valid))
    assert result.exit_code == 1, result.output
    assert "contam.exact_match" in rows[1]["codes"] and "contam.exact_match" not in rows[0]["codes"]
    assert "contam.split_overlap" in rows[2]["codes"] and "contam.split_overlap" not in rows[0]["codes"]
