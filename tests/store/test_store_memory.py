"""The store's memory limit and spill folder, and staged bulk loads, on real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_helpers import fail, make_row, new_dataset

from synthgate.audit.runner import audit
from synthgate.errors import ConfigError
from synthgate.store import Store
from synthgate.store.connection import MEMORY_LIMIT_ENV, TEMP_DIR_ENV, configure

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "data" / "poisoned_rag.jsonl"


@pytest.fixture(autouse=True)
def _defaults(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.delenv(TEMP_DIR_ENV, raising=False)
    configure()
    yield
    configure()


def _settings(store: Store) -> tuple[str, str]:
    row = store._con.fetchone("SELECT current_setting('memory_limit'), current_setting('temp_directory')")
    assert row is not None
    return row[0], row[1]


def test_default_limit_is_at_most_1_gib_and_spills_beside_the_file(db_path):
    with Store.open(db_path) as store:
        limit, spill = _settings(store)
    number, unit = limit.split(" ")
    assert unit in ("MiB", "GiB") and float(number) * (1 if unit == "GiB" else 1 / 1024) <= 1.0
    assert spill == f"{db_path}.tmp"


def test_environment_and_configure_set_the_limit_and_spill_folder(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "300MB")
    monkeypatch.setenv(TEMP_DIR_ENV, str(tmp_path / "spill"))
    with Store.open(db_path) as store:
        assert _settings(store) == ("286.1 MiB", str(tmp_path / "spill"))
    configure("1GB", tmp_path / "other")  # the CLI's --db-memory-limit / --db-temp-dir win
    with Store.open(db_path) as store:
        assert _settings(store) == ("953.6 MiB", str(tmp_path / "other"))


def test_an_unreadable_memory_limit_is_a_config_error_naming_it(db_path):
    configure("lots")
    with pytest.raises(ConfigError, match="memory limit 'lots'") as err:
        Store.open(db_path)
    assert "--db-memory-limit" in (err.value.hint or "")


def test_bulk_load_writes_nothing_until_load_then_everything_in_order(store):
    with store.transaction():
        ds = new_dataset(store)
        with store.bulk(ds) as bulk:
            bulk.add_samples([make_row(i) for i in range(5000)])
            bulk.add_verdicts([(3, fail("leak.system_prompt")), (1, fail("loop.repeated_sentence"))])
            bulk.add_verdicts([(3, fail("echo.prompt"))])
            staged = bulk.folder
            assert store.samples.count(ds) == 0  # still on disk only
            bulk.load()
        assert not staged.exists() and not staged.parent.exists()  # no stray `<store>.tmp` either
        assert store.samples.count(ds) == 5000
        assert store.samples.get(ds, 4999).sample.completion == "Answer number 4999."
        codes = [(i, v.code) for i, v in store.verdicts.for_dataset(ds)]
        assert codes == [(1, "loop.repeated_sentence"), (3, "leak.system_prompt"), (3, "echo.prompt")]


def test_interrupted_audit_leaves_the_store_as_it_was_and_no_staged_files(db_path):
    with Store.open(db_path) as store:
        first = audit(DEMO, store).dataset_id

        def interrupt(_done: int) -> None:
            raise KeyboardInterrupt  # Ctrl-C after the first batch was staged

        with pytest.raises(KeyboardInterrupt):
            audit(DEMO, store, progress=interrupt)
        assert [d.id for d in store.datasets.list()] == [first]
        spill = store._con.temp_directory
    import gc

    gc.collect()  # the abandoned writer's staging folder goes with it
    assert not spill.exists()


def test_a_staging_folder_left_by_a_killed_process_is_removed_by_the_next_load(store):
    spill = store._con.temp_directory
    orphan = spill / "synthgate-stage-999999999-abc"  # no such process
    orphan.mkdir(parents=True)
    (orphan / "samples.parquet").write_bytes(b"partial")
    with store.transaction():
        ds = new_dataset(store)
        with store.bulk(ds) as bulk:
            bulk.load()
    assert not orphan.exists()
