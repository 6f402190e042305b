"""The detection benchmark's plumbing: label pinning, missing-data guidance, verdict-to-family mapping.

The labelled records themselves are fetched data and never committed, so these tests use the
committed labels and source descriptions plus the real scripts (subprocess), not the records.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "detection"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import run  # noqa: E402


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, str(BENCH / name), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)


def test_every_set_has_at_least_150_labels_each_pinned_to_a_sampled_record():
    names = common.set_names()
    assert len(names) >= 4
    for name in names:
        src = common.load_source(name)
        labels = common.read_labels(src)
        drawn = json.loads((common.SETS_DIR / name / "sample.json").read_text())
        sampled = set(drawn["uniform"]) | {e["index"] for e in drawn["enriched"]}
        sampled |= set(drawn.get("uniform_topup", []))
        assert len(labels) >= 150, name
        assert [row["index"] for row in labels] == sorted(sampled), name
        for row in labels:
            assert len(row["sha256"]) == 64
            assert set(row["reasons"]) == set(row["positives"]), (name, row["index"])
            assert all(r.strip() for r in row["reasons"].values())


def test_record_hash_ignores_key_order_but_not_content():
    a = {"instruction": "Add 2 and 3.", "input": "", "output": "5"}
    b = {"output": "5", "input": "", "instruction": "Add 2 and 3."}
    assert common.record_sha256(a) == common.record_sha256(b)
    assert common.record_sha256(a) != common.record_sha256({**a, "output": "6"})


def test_run_without_prepared_data_exits_2_and_says_where_each_set_comes_from(tmp_path):
    out = _script("run.py", "--data", str(tmp_path))
    assert out.returncode == 2
    pinned = "github.com/sahil280114/codealpaca at commit 2f78ddc5c682ed6738ad092bbbfa59ba915afcb0"
    assert pinned in out.stderr
    assert "prepare.py" in out.stderr


def test_prepare_refuses_a_file_whose_records_do_not_match_the_pinned_labels(tmp_path):
    # A real public file (LLaMA-Factory's alpaca demo slice) is not the pinned Code Alpaca file.
    wrong = ROOT / "tests" / "data" / "alpaca_en_demo_50.json"
    out = _script("prepare.py", "code_alpaca", "--from", str(wrong), "--data", str(tmp_path))
    assert out.returncode == 2
    assert "code_alpaca: record 8 has sha256" in out.stderr
    assert "not the pinned file (sahil280114/codealpaca" in out.stderr
    assert not (tmp_path / "code_alpaca.jsonl").exists()


def test_pair_verdicts_keep_the_chosen_side_and_the_pair_but_not_rejected_only_codes():
    line = {
        "codes": [
            "artifact.boilerplate",
            "loop.fragment_loop",
            "pref.identical_pair",
            "pref.rejected_failed",
        ],
        "side_codes": {"chosen": ["artifact.boilerplate"], "rejected": ["loop.fragment_loop"]},
    }
    assert run.predicted_codes(line) == ["artifact.boilerplate", "pref.identical_pair"]


def test_families_come_from_the_codes_so_new_families_get_rows():
    result = {
        "name": "toy",
        "families": {
            "echo": {"positives": 2, "tp": 1, "fp": 1, "fn": 1, "errors": []},
            "artifact": {"positives": 1, "tp": 1, "fp": 0, "fn": 0, "errors": []},
        },
    }
    text, totals = run.table([result])
    assert "| toy | echo | 2 | 1 | 1 | 1 | 0.50 | 0.50 |" in text
    assert "| toy | artifact | 1 | 1 | 0 | 0 | 1.00 | 1.00 |" in text
    assert totals["overall"] == pytest.approx(
        {"positives": 3, "tp": 2, "fp": 1, "fn": 1, "precision": 0.667, "recall": 0.667}
    )


def test_excerpts_mask_keys_passwords_emails_and_phones():
    output = "Key sk-proj-Ab3dE5gH7jK9mN1p, pass a9B7$#fG3&Z1, mail jane.doe@gmail.com, call (415) 867-5309"
    text = run.excerpt({"output": output}, width=200)
    for secret in ("Ab3dE5gH7jK9mN1p", "fG3&Z1", "jane.doe@gmail", "867-5309"):
        assert secret not in text
    assert text.count("[masked]") == 4
