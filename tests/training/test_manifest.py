"""The export contract: a manifest that does not match its files, or a failed gate, is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from synthgate.errors import GateRefused, ManifestMismatch
from synthgate.training.manifest import (
    EVAL_FILE,
    MANIFEST_NAME,
    TRAIN_FILE,
    GateCheck,
    GateReport,
    Manifest,
    describe_file,
    read_manifest,
    sha256_file,
    verify_export,
    write_manifest,
)

TOPICS = [
    "LoRA",
    "a tokenizer",
    "a learning rate",
    "dropout",
    "an epoch",
    "a checkpoint",
    "a gradient",
    "a batch",
]


def record(i: int) -> dict[str, Any]:
    """One TRL conversational prompt/completion record."""
    topic = TOPICS[i % len(TOPICS)]
    return {
        "prompt": [
            {"role": "system", "content": "Answer in one short sentence."},
            {"role": "user", "content": f"What is {topic}?"},
        ],
        "completion": [
            {"role": "assistant", "content": f"{topic.capitalize()} is a training concept, number {i}."}
        ],
    }


def write_export(
    folder: Path,
    *,
    n_train: int = 8,
    n_eval: int = 2,
    gate_passed: bool = True,
    policy: dict[str, Any] | None = None,
    teachers: tuple[str, ...] = ("qwen2.5:7b-instruct",),
    max_length: int = 128,
) -> Manifest:
    """Write train/eval JSONL and a manifest the way the exporter does (describe_file + write_manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    splits = {TRAIN_FILE: range(n_train), EVAL_FILE: range(n_train, n_train + n_eval)}
    for name, ids in splits.items():
        lines = [json.dumps(record(i)) + "\n" for i in ids]
        (folder / name).write_text("".join(lines), encoding="utf-8")
    checks = [GateCheck(name="fail_rate", passed=gate_passed, value=0.0 if gate_passed else 0.4, limit=0.05)]
    if not gate_passed:
        checks[0].message = "40% of records failed validation (limit 5%)"
    manifest = Manifest(
        synthgate_version="0.1.0",
        version_id="v-test-1",
        created_at=datetime.now(UTC),
        gate=GateReport(
            passed=gate_passed, policy={"require_completion_only": True, **(policy or {})}, checks=checks
        ),
        chain_config={"length": {"max_length": max_length}},
        counts={"total": n_train + n_eval, "train": n_train, "eval": n_eval},
        tokenizer="default",
        max_length=max_length,
        teacher_models=list(teachers),
        files={name: describe_file(folder / name) for name in splits},
    )
    write_manifest(folder, manifest)
    return manifest


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(b"What")
    data[at] = ord("w")
    path.write_bytes(bytes(data))


def test_intact_export_verifies_and_round_trips(tmp_path):
    written = write_export(tmp_path)
    assert verify_export(tmp_path) == written
    assert read_manifest(tmp_path).files[TRAIN_FILE].records == 8
    assert written.requires_completion_only


def test_editing_one_byte_of_train_jsonl_is_a_mismatch_naming_both_hashes(tmp_path):
    manifest = write_export(tmp_path)
    train = tmp_path / TRAIN_FILE
    flip_one_byte(train)
    expected, actual = manifest.files[TRAIN_FILE].sha256, sha256_file(train)
    with pytest.raises(
        ManifestMismatch, match=rf"train\.jsonl does not match .*expected {expected}, actual {actual}"
    ):
        verify_export(tmp_path)


def test_missing_manifest_is_refused_with_exit_code_2(tmp_path):
    write_export(tmp_path)
    (tmp_path / MANIFEST_NAME).unlink()
    with pytest.raises(ManifestMismatch, match=r"manifest\.json is missing") as info:
        verify_export(tmp_path)
    assert info.value.exit_code == 2


def test_missing_listed_file_is_named(tmp_path):
    write_export(tmp_path)
    (tmp_path / EVAL_FILE).unlink()
    with pytest.raises(ManifestMismatch, match=r"eval\.jsonl is missing \(listed in .*manifest\.json\)"):
        verify_export(tmp_path)


def test_manifest_with_an_unknown_key_is_invalid(tmp_path):
    write_export(tmp_path)
    path = tmp_path / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["gate"]["passd"] = True
    path.write_text(json.dumps(data))
    with pytest.raises(
        ManifestMismatch, match=r"not a valid manifest: gate\.passd: Extra inputs are not permitted"
    ):
        verify_export(tmp_path)


def test_manifest_pointing_outside_its_folder_is_refused(tmp_path):
    write_export(tmp_path / "export")
    path = tmp_path / "export" / MANIFEST_NAME
    data = json.loads(path.read_text())
    (tmp_path / "secret.jsonl").write_text("{}\n")
    data["files"]["../secret.jsonl"] = data["files"][EVAL_FILE]
    path.write_text(json.dumps(data))
    with pytest.raises(
        ManifestMismatch, match=r"lists '\.\./secret\.jsonl', which is not a path inside the folder"
    ):
        verify_export(tmp_path / "export")


def test_files_in_subfolders_verify_by_hash_and_other_formats_skip_line_counts(tmp_path):
    # The hf-dataset format lists arrow shards under dataset/; their records are not lines.
    manifest = write_export(tmp_path)
    shard = tmp_path / "dataset" / "train" / "data-00000-of-00001.arrow"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"\x00arrow bytes\n\n\n")
    files = {**manifest.files, "dataset/train/data-00000-of-00001.arrow": describe_file(shard)}
    files["dataset/train/data-00000-of-00001.arrow"].records = 10
    write_manifest(tmp_path, manifest.model_copy(update={"files": files}))
    assert verify_export(tmp_path).files["dataset/train/data-00000-of-00001.arrow"].records == 10
    shard.write_bytes(b"\x01arrow bytes\n\n\n")
    with pytest.raises(ManifestMismatch, match=r"data-00000-of-00001\.arrow does not match the manifest"):
        verify_export(tmp_path)


def test_record_count_disagreeing_with_the_manifest_is_a_mismatch(tmp_path):
    write_export(tmp_path)
    path = tmp_path / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["files"][TRAIN_FILE]["records"] = 9
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestMismatch, match=r"train\.jsonl holds 8 records but the manifest says 9"):
        verify_export(tmp_path)


def test_failed_gate_is_refused_with_exit_code_2_and_the_failed_check(tmp_path):
    write_export(tmp_path, gate_passed=False)
    with pytest.raises(
        GateRefused, match=r"v-test-1 failed the gate \(fail_rate: 40% of records failed"
    ) as info:
        verify_export(tmp_path)
    assert info.value.exit_code == 2
    assert GateRefused.exit_code == 1  # only this refusal is exit 2, not the class


def test_write_manifest_leaves_no_temp_file(tmp_path):
    write_export(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [EVAL_FILE, MANIFEST_NAME, TRAIN_FILE]
