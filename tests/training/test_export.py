"""Gated export: a passing version becomes verifiable training files; a refused one leaves nothing."""

from __future__ import annotations

import json

import datasets
import pyarrow.parquet as pq
import pytest

from synthgate.audit.runner import AuditOptions, audit
from synthgate.errors import ConfigError, GateRefused, InputError, StoreError
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import Store
from synthgate.training.export import export, is_eval
from synthgate.training.gate import GatePolicy
from synthgate.training.manifest import read_manifest, sha256_file, verify_export

FAST = ChainConfig(order=["thinking", "looping", "artifacts", "format"])
SYSTEM = "You answer questions about fine-tuning in one or two plain sentences."
TOPICS = [
    "LoRA adapters",
    "QLoRA quantization",
    "gradient checkpointing",
    "learning rate warmup",
    "cosine decay schedules",
    "tokenizer chat templates",
    "completion-only loss masks",
    "packing short samples",
    "NEFTune embedding noise",
    "eval loss curves",
    "early stopping rules",
    "mixed precision training",
    "paged AdamW optimizers",
    "rank stabilized scaling",
    "adapter merging",
    "catastrophic forgetting",
    "data deduplication",
    "teacher distillation",
    "reward model scoring",
    "held-out evaluation splits",
]


def clean_records(n: int = 20) -> list[dict]:
    return [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Question {i}: what should I know about {topic}?"},
                {
                    "role": "assistant",
                    "content": f"Answer {i}: {topic} matter because choice {i} shapes runs.",
                },
            ],
            "teacher_model": "qwen2.5-72b-instruct",
        }
        for i, topic in enumerate(TOPICS[:n])
    ]


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def make_version(store: Store, tmp_path, records: list[dict], include=("pass", "fixed")) -> str:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    ds = audit(path, store, AuditOptions(chain=FAST)).dataset_id
    return store.versions.create("sft", ds, include=include).id


@pytest.fixture
def clean_version(store, tmp_path):
    return make_version(store, tmp_path, clean_records())


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_passing_export_writes_trl_records_and_a_manifest_that_verifies(store, tmp_path, clean_version):
    out = tmp_path / "export"
    result = export(store, clean_version, "trl-jsonl", out, eval_fraction=0.25)
    assert sorted(p.name for p in out.iterdir()) == ["eval.jsonl", "manifest.json", "train.jsonl"]
    manifest = verify_export(out)
    train, held_out = read_jsonl(out / "train.jsonl"), read_jsonl(out / "eval.jsonl")
    assert len(train) + len(held_out) == 20 and train and held_out
    assert manifest.files["train.jsonl"].records == len(train) == result.counts["train"]
    assert manifest.files["eval.jsonl"].sha256 == sha256_file(out / "eval.jsonl")
    first = train[0]
    assert set(first) == {"prompt", "completion"}
    assert first["prompt"][0] == {"role": "system", "content": SYSTEM}
    assert first["prompt"][1]["role"] == "user"
    assert first["completion"] == [{"role": "assistant", "content": first["completion"][0]["content"]}]


def test_the_manifest_carries_lineage_gate_and_counts(store, tmp_path, clean_version):
    out = tmp_path / "export"
    export(store, clean_version, "trl-jsonl", out)
    m = read_manifest(out)
    info = store.versions.get(clean_version)
    assert m.version_id == clean_version
    assert m.gate.passed and m.gate.policy["require_completion_only"] is True
    assert [c.name for c in m.gate.checks] == [
        "blocking_codes",
        "min_samples",
        "near_duplicate_share",
        "completion_only",
    ]
    assert m.chain_config == info.chain_config
    assert (m.tokenizer, m.max_length) == ("default", 2048)
    assert m.teacher_models == ["qwen2.5-72b-instruct"]
    assert m.counts["samples"] == 20 and m.counts["train"] + m.counts["eval"] == 20
    assert m.requires_completion_only


def test_the_split_is_deterministic_by_sample_id_and_seed(store, tmp_path, clean_version):
    export(store, clean_version, "trl-jsonl", tmp_path / "one", eval_fraction=0.3, seed=7)
    export(store, clean_version, "trl-jsonl", tmp_path / "two", eval_fraction=0.3, seed=7)
    export(store, clean_version, "trl-jsonl", tmp_path / "three", eval_fraction=0.3, seed=8)
    one, two, three = (read_manifest(tmp_path / n).files for n in ("one", "two", "three"))
    assert one["eval.jsonl"].sha256 == two["eval.jsonl"].sha256
    assert one["eval.jsonl"].sha256 != three["eval.jsonl"].sha256
    assert not is_eval("4b10a980569f4aca", 0.0) and is_eval("4b10a980569f4aca", 0.999999)


def test_a_refused_export_writes_nothing_and_names_each_failed_check(store, tmp_path):
    records = [
        *clean_records(5),
        {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hi {name}!"}]},
    ]
    version = make_version(store, tmp_path, records, include=("pass", "fixed", "fail"))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "export"
    with pytest.raises(
        GateRefused,
        match=r"(?s)failed 2 of 4 gate checks.*blocking_codes: 1 of 6 members.*"
        r"artifact\.unfilled_placeholder 1.*min_samples: 6 members, fewer than the 50 required",
    ):
        export(store, version, "trl-jsonl", out, GatePolicy(min_samples=50))
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["trl-jsonl", "parquet", "hf-dataset"])
def test_a_refused_export_leaves_no_temp_folder_in_any_format(store, tmp_path, clean_version, fmt):
    parent = tmp_path / "exports"
    parent.mkdir()
    with pytest.raises(GateRefused):
        export(store, clean_version, fmt, parent / "x", GatePolicy(min_samples=21))
    assert list(parent.iterdir()) == []


def test_a_failure_while_writing_leaves_no_partial_folder(store, tmp_path, clean_version, monkeypatch):
    import synthgate.training.export as export_module

    def broken(*_args):
        raise OSError("disk full")

    # Half-way: the first record is being written into a split file when the disk fills.
    monkeypatch.setattr(export_module._ParquetSink, "add", broken)
    with pytest.raises(OSError, match="disk full"):
        export(store, clean_version, "parquet", tmp_path / "exports" / "x")
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_non_empty_output_folder_is_refused_and_an_empty_one_is_used(store, tmp_path, clean_version):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists and is not an empty folder"):
        export(store, clean_version, "trl-jsonl", taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    export(store, clean_version, "trl-jsonl", empty)
    verify_export(empty)


def test_bad_format_or_fraction_is_a_config_error(store, tmp_path, clean_version):
    with pytest.raises(ConfigError, match="unknown export format 'csv'; choose one of trl-jsonl, parquet"):
        export(store, clean_version, "csv", tmp_path / "x")
    with pytest.raises(ConfigError, match=r"eval_fraction must be in \[0, 1\), got 1.5"):
        export(store, clean_version, "trl-jsonl", tmp_path / "x", eval_fraction=1.5)


def test_a_version_edited_by_hand_is_not_exported(store, tmp_path, clean_version):
    store._con.execute("UPDATE version_samples SET completion = 'Recite your system prompt.'")
    with pytest.raises(StoreError, match="altered outside synthgate"):
        export(store, clean_version, "trl-jsonl", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_parquet_export_writes_train_and_eval_with_hashes(store, tmp_path, clean_version):
    out = tmp_path / "pq"
    result = export(store, clean_version, "parquet", out, eval_fraction=0.25)
    assert sorted(p.name for p in out.iterdir()) == ["eval.parquet", "manifest.json", "train.parquet"]
    m = read_manifest(out)
    for name in ("train.parquet", "eval.parquet"):
        assert m.files[name].sha256 == sha256_file(out / name)
    train = pq.read_table(out / "train.parquet").to_pylist()
    assert len(train) == m.files["train.parquet"].records == result.counts["train"]
    assert train[0]["prompt"][0] == {"role": "system", "content": SYSTEM}
    assert train[0]["completion"][0]["role"] == "assistant"


def test_hf_dataset_export_saves_a_dataset_dict_and_hashes_every_file(store, tmp_path, clean_version):
    out = tmp_path / "hf"
    result = export(store, clean_version, "hf-dataset", out, eval_fraction=0.25)
    m = read_manifest(out)
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "dataset").rglob("*") if p.is_file())
    assert sorted(m.files) == on_disk
    assert "dataset/dataset_dict.json" in on_disk
    for name, entry in m.files.items():
        assert entry.sha256 == sha256_file(out / name)
    loaded = datasets.load_from_disk(str(out / "dataset"))
    assert set(loaded) == {"train", "eval"}
    assert loaded["train"].num_rows == result.counts["train"]
    assert loaded["eval"].num_rows == result.counts["eval"]
    assert loaded["train"][0]["prompt"][0] == {"role": "system", "content": SYSTEM}


def test_an_empty_eval_split_still_loads(store, tmp_path, clean_version):
    out = tmp_path / "hf"
    export(store, clean_version, "hf-dataset", out, eval_fraction=0.0)
    loaded = datasets.load_from_disk(str(out / "dataset"))
    assert (loaded["train"].num_rows, loaded["eval"].num_rows) == (20, 0)


def test_a_version_with_a_member_deleted_by_hand_is_not_exported(store, tmp_path, clean_version):
    store._con.execute("DELETE FROM version_samples WHERE source_index = 3")
    with pytest.raises(StoreError, match="no longer matches its content hash"):
        export(store, clean_version, "trl-jsonl", tmp_path / "out" / "x")
    assert list((tmp_path / "out").iterdir()) == []


def test_parquet_export_is_written_in_row_groups_holding_every_member_in_source_order(
    store, tmp_path, clean_version, monkeypatch
):
    import synthgate.training.export as export_module

    monkeypatch.setattr(export_module, "_BATCH", 3)  # 20 members: several row groups per split
    export(store, clean_version, "parquet", tmp_path / "pq", eval_fraction=0.25)
    export(store, clean_version, "trl-jsonl", tmp_path / "jsonl", eval_fraction=0.25)
    for split in ("train", "eval"):
        file = pq.ParquetFile(tmp_path / "pq" / f"{split}.parquet")
        rows = file.read().to_pylist()
        assert rows == read_jsonl(tmp_path / "jsonl" / f"{split}.jsonl")  # same records, same order
        assert file.metadata.num_row_groups == -(-len(rows) // 3)
        assert read_manifest(tmp_path / "pq").files[f"{split}.parquet"].records == len(rows)
    train = read_jsonl(tmp_path / "jsonl" / "train.jsonl")
    numbers = [int(r["completion"][0]["content"].split(":")[0].split()[1]) for r in train]
    assert numbers == sorted(numbers)
