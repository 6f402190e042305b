"""`--engine ray` gives exactly the local engine's audit: report lines, status and code counts, set
findings, summary and stored rows and verdicts (dataset ids aside).

One local Ray (2 CPUs) serves the module. Blocks are forced tiny (a few hundred bytes of JSONL, one
or two Parquet row groups) so two actors finish them out of order and duplicates cross block
boundaries; the driver must still take every set-level decision in input order.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'synthgate[ray]'")

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from real_shapes import ALPACA, GSM8K, write_jsonl  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from synthgate.audit import report  # noqa: E402
from synthgate.audit.ray_engine import RayOptions, audit_on_ray  # noqa: E402
from synthgate.audit.runner import AuditOptions, audit  # noqa: E402
from synthgate.audit.writer import DatasetCounts  # noqa: E402
from synthgate.cli.app import app  # noqa: E402
from synthgate.errors import ConfigError, InputError  # noqa: E402
from synthgate.store import Store  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TINY = RayOptions(workers=2, block_bytes=1500, block_rows=1)  # 2-4 records a block


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    # Started once for the module: each audit reuses it (an engine stops only a Ray it started).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _snapshot(store: Store, result: DatasetCounts, out: Path) -> dict:
    ds = result.dataset_id
    report.write_report(store, ds, out)
    summary = report.summary(store, ds)
    summary.pop("dataset_id")
    return {
        "result": (
            result.records,
            result.status_counts,
            result.code_counts,
            [f.model_dump() for f in result.set_findings],
        ),
        "report": out.read_text().splitlines(),
        "summary": summary,
        "rows": list(store.samples.iter(ds)),
        "verdicts": [(i, v.model_dump()) for i, v in store.verdicts.for_dataset(ds)],
    }


def _both(tmp_path: Path, path, options: AuditOptions, ray_options: RayOptions = TINY) -> tuple[dict, dict]:
    """The local and the Ray audit of `path`, each into its own fresh store."""
    snaps = []
    for engine in ("local", "ray"):
        with Store.open(tmp_path / f"{engine}.duckdb") as store:
            if engine == "local":
                result = audit(path, store, options)
            else:
                result = audit_on_ray(path, store, options, ray_options)
            snaps.append(_snapshot(store, result, tmp_path / f"{engine}-report.jsonl"))
    return snaps[0], snaps[1]


def _assert_equal(local: dict, on_ray: dict) -> None:
    for key in ("result", "report", "summary", "verdicts", "rows"):
        assert on_ray[key] == local[key], f"{key} differs between the engines"


def test_demo_sets_audit_identically(tmp_path):
    paths = [ROOT / "demo/data/poisoned_rag.jsonl", ROOT / "demo/data/clean_rag.jsonl"]
    local, on_ray = _both(tmp_path, paths, AuditOptions(), RayOptions(workers=2, block_bytes=4000))
    _assert_equal(local, on_ray)
    assert local["result"][1]["fail"] > 0  # the poisoned set's findings are there to compare
    assert len(on_ray["summary"]["shards"]) == 2


def _sft_with_copies(n: int = 40) -> list[dict]:
    """GSM8K records, then exact and near copies of early ones, so duplicates span many blocks."""
    records = [{"prompt": r["question"], "completion": r["answer"]} for r in GSM8K[:n]]
    copies = [dict(records[i]) for i in (0, 3, 7)]
    near = {"prompt": records[5]["prompt"] + " Explain.", "completion": records[5]["completion"]}
    return [*records, *copies, near]


def test_duplicates_across_blocks_and_bad_lines_with_skip_invalid_audit_identically(tmp_path):
    records = _sft_with_copies()
    for i in (0, 9, 18, 27, 36):  # the teacher's count at a round cap, in five blocks
        records[i]["completion_tokens"] = 256
    lines = [json.dumps(r) for r in records]
    lines[4] = "{not json"
    lines[11] = json.dumps(["a list, not a record"])
    lines[17] = json.dumps({"prompt": "only a prompt"})
    lines.insert(20, "")  # a blank line: lines and record indexes part ways after it
    data = tmp_path / "mixed.jsonl"
    data.write_bytes(("\n".join(lines) + "\n").encode() + b'{"prompt": "\xff"}\n')
    local, on_ray = _both(tmp_path, data, AuditOptions(skip_invalid=True))
    _assert_equal(local, on_ray)
    found = [(i, v["code"]) for i, v in on_ray["verdicts"] if v["code"].startswith(("input.", "dup."))]
    assert found == [
        (4, "input.malformed"),
        (11, "input.wrong_type"),
        (17, "input.no_completion"),
        (40, "dup.exact_record"),
        (41, "dup.exact_record"),
        (42, "dup.exact_record"),
        (43, "dup.near_prompt"),
        (43, "dup.exact_completion"),
        (44, "input.not_utf8"),
    ]
    capped = [i for i, v in on_ray["verdicts"] if v["code"] == "length.truncated_completion"]
    assert capped == [0, 9, 18, 27, 36]


def test_first_bad_record_stops_both_engines_alike_and_leaves_the_store_as_it_was(tmp_path):
    lines = [json.dumps({"prompt": r["question"], "completion": r["answer"]}) for r in GSM8K[:30]]
    lines[9] = "{not json"
    lines[25] = "[]"
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(lines) + "\n")
    messages = []
    for engine in ("local", "ray"):
        with Store.open(tmp_path / f"{engine}.duckdb") as store:
            with pytest.raises(InputError, match=r"record 9: line 10 is not valid JSON") as err:
                if engine == "local":
                    audit(data, store, AuditOptions())
                else:
                    audit_on_ray(data, store, AuditOptions(), TINY)
            messages.append((str(err.value), err.value.hint))
            assert store.datasets.list() == []
    assert messages[0] == messages[1]


def test_preference_pairs_audit_identically(tmp_path):
    pairs = []
    for i, r in enumerate(GSM8K[:30]):
        other = GSM8K[i + 1]["answer"]
        pair = {"prompt": r["question"], "chosen": r["answer"], "rejected": other}
        if i % 7 == 3:
            pair["rejected"] = r["answer"]  # an identical pair
        pairs.append(pair)
    pairs.append(dict(pairs[2]))  # a duplicate pair in a later block
    data = write_jsonl(tmp_path / "dpo.jsonl", pairs)
    local, on_ray = _both(tmp_path, data, AuditOptions())
    _assert_equal(local, on_ray)
    assert on_ray["summary"]["preference"]["pairs"] == 31
    assert (
        on_ray["summary"]["preference"]["identical_pairs"]
        == local["summary"]["preference"]["identical_pairs"]
        > 0
    )


def test_eval_set_contamination_audits_identically(tmp_path):
    records = [{"instruction": r["instruction"], "input": r["input"], "output": r["output"]} for r in ALPACA]
    for k, i in enumerate((4, 19, 33)):  # three records ask a GSM8K test question verbatim
        records[i] = {"instruction": GSM8K[k]["question"], "input": "", "output": GSM8K[k]["answer"]}
    data = write_jsonl(tmp_path / "alpaca.jsonl", records)
    options = AuditOptions(eval_sets=(ROOT / "tests/data/gsm8k_test_200.jsonl",))
    local, on_ray = _both(tmp_path, data, options)
    _assert_equal(local, on_ray)
    contaminated = {line["index"] for line in map(json.loads, on_ray["report"]) if "contam." in str(line)}
    assert {4, 19, 33} <= contaminated


def test_multi_shard_parquet_with_tiny_row_groups_audits_identically(tmp_path):
    rows = [{"instruction": r["instruction"], "input": r["input"], "output": r["output"]} for r in ALPACA]
    rows += [dict(rows[i]) for i in (1, 8, 20)]  # copies of the first shard's records in the last
    random.Random(0).shuffle(rows[10:])
    folder = tmp_path / "shards"
    folder.mkdir()
    for n, part in enumerate((rows[:18], rows[18:37], rows[37:])):
        pq.write_table(
            pa.Table.from_pylist(part), folder / f"train-{n:05d}-of-00003.parquet", row_group_size=4
        )
    local, on_ray = _both(tmp_path, folder, AuditOptions())
    _assert_equal(local, on_ray)
    assert [s["records"] for s in on_ray["summary"]["shards"]] == [18, 19, len(rows) - 37]
    assert local["result"][2].get("dup.exact_record", 0) >= 3


def test_cli_engine_ray_prints_and_writes_what_the_local_engine_does(tmp_path):
    data = write_jsonl(tmp_path / "sft.jsonl", _sft_with_copies(20))
    outputs = []
    for engine in ("local", "ray"):
        extra = ["--engine", "ray", "--workers", "2"] if engine == "ray" else []
        report_file, summary_file = tmp_path / f"{engine}.jsonl", tmp_path / f"{engine}-summary.json"
        args = ["audit", str(data), "--db", str(tmp_path / f"{engine}.duckdb"), "--report", str(report_file)]
        result = CliRunner().invoke(app, [*args, "--summary", str(summary_file), *extra])
        assert result.exit_code == 1, result.output  # the copies are blocking duplicates
        summary = json.loads(summary_file.read_text())
        summary.pop("dataset_id")
        printed = result.output.rsplit("\n", 2)[0]  # the last line is the dataset id
        outputs.append((report_file.read_text(), summary, printed))
    assert outputs[1] == outputs[0]


def test_address_without_engine_ray_is_refused(tmp_path):
    data = write_jsonl(tmp_path / "sft.jsonl", _sft_with_copies(8))
    result = CliRunner().invoke(
        app, ["audit", str(data), "--db", str(tmp_path / "s.duckdb"), "--workers", "2"]
    )
    assert result.exit_code == 2
    assert "--address and --workers need --engine ray" in result.output


def test_more_workers_than_the_cluster_has_cpus_is_refused_before_any_work(tmp_path):
    data = write_jsonl(tmp_path / "sft.jsonl", _sft_with_copies(8))
    with Store.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(ConfigError, match=r"--workers 3 but the Ray cluster has 2 CPUs"):
            audit_on_ray(data, store, AuditOptions(), RayOptions(workers=3))
        assert store.datasets.list() == []
