"""The root options --db-memory-limit / --db-temp-dir on the real CLI and a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.store import Store
from synthgate.store.connection import MEMORY_LIMIT_ENV, TEMP_DIR_ENV, configure

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "data" / "poisoned_rag.jsonl"

runner = CliRunner()


@pytest.fixture(autouse=True)
def _defaults(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.delenv(TEMP_DIR_ENV, raising=False)
    yield
    configure()


def test_audit_runs_under_a_small_memory_limit_and_leaves_its_spill_folder_empty(tmp_path):
    db, spill = tmp_path / "s.duckdb", tmp_path / "spill"
    args = ["--db-memory-limit", "256MB", "--db-temp-dir", str(spill), "audit", str(DEMO), "--db", str(db)]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1, result.output  # the poisoned demo has findings
    assert not spill.exists()  # the staged rows were loaded and removed, and the folder made for them
    configure()
    with Store.open(db) as store:
        (ds,) = store.datasets.list()
        assert store.samples.count(ds.id) == len(DEMO.read_text().splitlines())


def test_an_unreadable_memory_limit_exits_2_naming_it(tmp_path):
    args = ["--db-memory-limit", "lots", "audit", str(DEMO), "--db", str(tmp_path / "s.duckdb")]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert "memory limit 'lots'" in result.output
    assert "--db-memory-limit like 2GB" in result.output
