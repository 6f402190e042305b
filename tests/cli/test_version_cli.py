"""The real CLI end to end: audit -> version create -> list/show/diff -> export."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.training.manifest import verify_export

runner = CliRunner()

# No leakage/length validators: fast, and enough to produce pass, fixed and fail records.
CHAIN = "order: [thinking, looping, artifacts, format]\n"
QA = [
    ("What does LoRA train?", "LoRA trains small low-rank adapters while the base weights stay frozen."),
    ("Why quantize a base model?", "Four-bit weights cut memory so a larger model fits on one GPU."),
    ("What is a tokenizer?", "A tokenizer splits text into the integer ids a language model reads."),
    ("What does warmup do?", "Warmup raises the learning rate slowly so early updates stay stable."),
]


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def last_line(output: str) -> str:
    return [ln for ln in output.splitlines() if ln.strip()][-1]


def write(path, pairs) -> str:
    lines = [
        json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
        for q, a in pairs
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def env(tmp_path):
    chain = tmp_path / "chain.yaml"
    chain.write_text(CHAIN)
    db = str(tmp_path / "s.duckdb")

    def audit(name: str, pairs) -> str:
        result = run("audit", write(tmp_path / name, pairs), "--config", str(chain), "--db", db)
        return last_line(result.output)

    return tmp_path, db, audit


def test_audit_version_list_show_diff_export(env):
    tmp, db, audit = env
    ds1 = audit("v1.jsonl", [*QA, ("Greet the user.", "Hello {user_name}, welcome aboard.")])
    assert ds1.startswith("ds_")

    created = run("version", "create", "rag-sft", "--source", ds1, "--db", db)
    assert created.exit_code == 0, created.output
    v1 = last_line(created.output)
    assert v1.startswith("v_") and f"created {v1} (rag-sft): 4 samples from {ds1}" in created.output

    again = run("version", "create", "rag-sft", "--source", ds1, "--db", db)
    assert last_line(again.output) == v1 and f"already versioned as {v1}" in again.output

    ds2 = audit("v2.jsonl", [(QA[0][0], "LoRA freezes the model and learns two small matrices."), *QA[1:]])
    v2 = last_line(run("version", "create", "rag-sft", "--source", ds2, "--db", db).output)
    assert v2 != v1

    listed = json.loads(run("version", "list", "--json", "--db", db).output)
    assert [(v["id"], v["parent_id"]) for v in listed] == [(v2, v1), (v1, None)]
    assert v1 in run("version", "list", "--db", db).output

    shown = json.loads(run("version", "show", v1, "--json", "--db", db).output)
    assert shown["source_status_counts"] == {"pass": 4, "fixed": 0, "fail": 1}
    assert shown["member_status_counts"] == {"pass": 4, "fixed": 0, "fail": 0}
    assert "rag-sft" in run("version", "show", v1, "--db", db).output

    diff = json.loads(run("version", "diff", v1, v2, "--json", "--db", db).output)
    assert (len(diff["added"]), len(diff["removed"]), len(diff["changed"])) == (0, 0, 1)
    assert diff["code_deltas"] == {"artifact.unfilled_placeholder": [1, 0, -1]}
    text = run("version", "diff", v1, v2, "--db", db).output
    assert "+0 added, -0 removed, ~1 changed" in text
    assert "source pass rate: 80.0% -> 100.0% (+20.0%)" in text

    out = tmp / "export"
    exported = run("export", v2, "--format", "trl-jsonl", "--out", str(out), "--db", db)
    assert exported.exit_code == 0, exported.output
    assert last_line(exported.output) == str(out)
    assert verify_export(out).version_id == v2


def test_a_refused_export_exits_1_prints_each_failed_check_and_writes_nothing(env):
    tmp, db, audit = env
    ds = audit("d.jsonl", [*QA, ("Greet the user.", "Hello {user_name}, welcome aboard.")])
    version = last_line(
        run("version", "create", "all", "--source", ds, "--include", "pass,fixed,fail", "--db", db).output
    )
    gate = tmp / "gate.yaml"
    gate.write_text("min_samples: 10\n")
    out = tmp / "export"
    result = run("export", version, "--out", str(out), "--gate", str(gate), "--db", db)
    assert result.exit_code == 1
    assert (
        "blocking_codes: 1 of 5 members carry blocking codes: artifact.unfilled_placeholder 1"
        in result.output
    )
    assert "min_samples: 5 members, fewer than the 10 required" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp.iterdir()) == ["chain.yaml", "d.jsonl", "gate.yaml", "s.duckdb"]


def test_each_format_exports_from_the_cli(env):
    tmp, db, audit = env
    version = last_line(run("version", "create", "sft", "--source", audit("d.jsonl", QA), "--db", db).output)
    pq = run("export", version, "--format", "parquet", "--out", str(tmp / "pq"), "--db", db)
    hf = run("export", version, "--format", "hf-dataset", "--out", str(tmp / "hf"), "--json", "--db", db)
    assert pq.exit_code == 0 and hf.exit_code == 0
    assert sorted(p.name for p in (tmp / "pq").iterdir()) == [
        "eval.parquet",
        "manifest.json",
        "train.parquet",
    ]
    manifest = json.loads(hf.output[: hf.output.rindex("}") + 1])
    assert manifest["version_id"] == version and "dataset/dataset_dict.json" in manifest["files"]


def test_unknown_ids_and_bad_options_exit_2_with_how_to_fix(env):
    _, db, audit = env
    missing = run("version", "show", "v_0000000000000000", "--db", db)
    assert missing.exit_code == 2
    assert "synthgate version list" in missing.output
    ds = audit("d.jsonl", QA)
    bad = run("version", "create", "sft", "--source", ds, "--include", "pass,good", "--db", db)
    assert bad.exit_code == 2 and "unknown status 'good'" in bad.output
    gate_typo = run("export", "v_0000000000000000", "--out", "x", "--gate", "/nonexistent.yaml", "--db", db)
    assert gate_typo.exit_code == 2 and "cannot read config" in gate_typo.output
