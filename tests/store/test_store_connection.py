"""Opening, locking and transactions on a real DuckDB file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from store_helpers import fail, make_row, new_dataset

from synthgate.errors import NotFound, StoreBusy, StoreError
from synthgate.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, db: Path) -> subprocess.Popen:
    """Run `code` in a second process (this venv's python) with `db` as argv[1]."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def _write_audit(store: Store, name: str, n: int) -> str:
    ds = new_dataset(store, name=name)
    store.samples.add_batch(ds, [make_row(i) for i in range(n)])
    store.verdicts.add_batch(ds, [(0, fail("leak.system_prompt"))])
    store.datasets.finish(ds, {"records": n})
    return ds


def test_exception_inside_transaction_leaves_previous_contents_and_adds_nothing(db_path):
    with Store.open(db_path) as store:
        with store.transaction():
            first = _write_audit(store, "first.jsonl", 3)
        with pytest.raises(KeyboardInterrupt), store.transaction():
            second = new_dataset(store, name="second.jsonl")
            store.samples.add_batch(second, [make_row(i) for i in range(2000)])
            store.verdicts.add_batch(second, [(1, fail("loop.repeated_sentence"))])
            raise KeyboardInterrupt  # Ctrl-C half-way through the audit
        # The store stays usable after the rollback.
        assert [d.id for d in store.datasets.list()] == [first]
    with Store.open(db_path) as store:
        assert [d.id for d in store.datasets.list()] == [first]
        assert store.samples.count(first) == 3 and store.samples.count(second) == 0
        assert store.status_counts(first) == {"pass": 2, "fixed": 0, "fail": 1}
        with pytest.raises(NotFound):
            store.datasets.get(second)


def test_killed_process_mid_transaction_leaves_only_committed_datasets(db_path):
    child = _python(
        """
        import sys
        from synthgate.schemas.sample import Message, Sample
        from synthgate.store import SampleRow, Store

        def rows(n):
            p = [Message(role="user", content="q")]
            return [SampleRow(i, None, Sample(prompt=p, completion=f"a{i}"), None, None) for i in range(n)]

        store = Store.open(sys.argv[1])
        kw = dict(source_path=None, source_sha256=None, fmt="auto", options={}, chain_config={})
        with store.transaction():
            ds = store.datasets.create(name="first", **kw)
            store.samples.add_batch(ds, rows(10))
            store.datasets.finish(ds, {"records": 10})
        with store.transaction():
            ds = store.datasets.create(name="second", **kw)
            store.samples.add_batch(ds, rows(5000))
            print("mid", flush=True)
            sys.stdin.read()
        """,
        db_path,
    )
    try:
        assert child.stdout.readline().strip() == "mid", child.stderr.read()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    with Store.open(db_path) as store:
        assert [d.name for d in store.datasets.list()] == ["first"]


def test_second_process_opening_a_held_store_gets_store_busy(db_path):
    child = _python(
        """
        import sys
        from synthgate.store import Store

        with Store.open(sys.argv[1]):
            print("holding", flush=True)
            sys.stdin.read()
        """,
        db_path,
    )
    try:
        assert child.stdout.readline().strip() == "holding", child.stderr.read()
        with pytest.raises(
            StoreBusy, match=rf"the store .*s\.duckdb is in use by another process \(PID {child.pid}\)"
        ) as err:
            Store.open(db_path)
        assert "--db" in err.value.hint
    finally:
        child.communicate("", timeout=30)
    assert child.returncode == 0
    with Store.open(db_path) as store:  # the lock goes with the other process
        assert store.datasets.list() == []


def test_store_busy_is_also_raised_in_the_other_direction(db_path):
    with Store.open(db_path):
        child = _python(
            """
            import sys
            from synthgate.errors import StoreBusy
            from synthgate.store import Store

            try:
                Store.open(sys.argv[1])
            except StoreBusy as err:
                print(type(err).__name__, err)
            """,
            db_path,
        )
        out, errors = child.communicate(timeout=60)
    assert out.startswith(f"StoreBusy the store {db_path} is in use by another process"), errors


def test_non_duckdb_file_is_a_store_error_and_is_left_untouched(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes, not a database\n" * 50)
    with pytest.raises(StoreError, match=r"notes\.duckdb is not a DuckDB database, or it is corrupt") as err:
        Store.open(path)
    assert not isinstance(err.value, StoreBusy)
    assert path.read_text().startswith("these are my notes")


def test_empty_file_becomes_a_new_store(tmp_path):
    path = tmp_path / "touched.duckdb"
    path.touch()
    with Store.open(path) as store:
        assert store.datasets.list() == []


def test_missing_parent_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "s.duckdb"
    with Store.open(path) as store:
        new_dataset(store)
    assert path.is_file()


def test_nested_transactions_join_the_outer_one(store):
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            new_dataset(store)
        raise RuntimeError("outer fails after the inner block finished")
    assert store.datasets.list() == []


def test_reads_inside_a_transaction_see_its_uncommitted_rows_and_release_the_connection(store):
    with store.transaction():
        ds = new_dataset(store)
        store.samples.add_batch(ds, [make_row(i) for i in range(5000)])
        assert [r.index for r in store.report_rows(ds)] == list(range(5000))
        rows = store.samples.iter(ds)
        assert next(rows).index == 0
        rows.close()  # stopped early: the connection is free again
        store.verdicts.add_batch(ds, [(1, fail("leak.system_prompt"))])
        assert store.status_counts(ds)["fail"] == 1
