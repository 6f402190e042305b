"""The schema is versioned and migrating is idempotent."""

from __future__ import annotations

import pytest
from store_helpers import new_dataset

from synthgate.errors import StoreError
from synthgate.store import Store
from synthgate.store.connection import Connection
from synthgate.store.migrations import MIGRATIONS, Migration, current_version, migrate


def test_new_file_is_migrated_to_the_latest_version(db_path):
    with Store.open(db_path) as store:
        assert store.schema_version == MIGRATIONS[-1].version


def test_reopening_applies_nothing_and_keeps_data(db_path):
    with Store.open(db_path) as store:
        ds = new_dataset(store)
    con = Connection.open(db_path)
    try:
        assert migrate(con) == []
        assert migrate(con) == []
        assert current_version(con) == MIGRATIONS[-1].version
    finally:
        con.close()
    with Store.open(db_path) as store:
        assert [d.id for d in store.datasets.list()] == [ds]


def test_an_appended_migration_runs_once_on_an_existing_file(db_path):
    Store.open(db_path).close()
    extra = [*MIGRATIONS, Migration(99, "test table", ["CREATE TABLE later (x INTEGER)"])]
    con = Connection.open(db_path)
    try:
        assert migrate(con, extra) == [99]
        assert migrate(con, extra) == []
    finally:
        con.close()


def test_a_file_from_a_newer_synthgate_is_refused(db_path):
    con = Connection.open(db_path)
    try:
        migrate(con, [*MIGRATIONS, Migration(99, "future", ["CREATE TABLE future (x INTEGER)"])])
    finally:
        con.close()
    latest = MIGRATIONS[-1].version
    with pytest.raises(StoreError, match=rf"schema version 99, newer than this synthgate knows \({latest}\)"):
        Store.open(db_path)


def test_a_failing_migration_leaves_the_version_unchanged(db_path):
    Store.open(db_path).close()
    latest = MIGRATIONS[-1].version
    nxt = latest + 1
    broken = [
        *MIGRATIONS,
        Migration(nxt, "broken", ["CREATE TABLE ok (x INTEGER)", "CREATE TABLE ok (y INT)"]),
    ]
    con = Connection.open(db_path)
    try:
        with pytest.raises(StoreError, match="already exists"):
            migrate(con, broken)
        assert current_version(con) == latest
        assert migrate(con, [*MIGRATIONS, Migration(nxt, "fixed", ["CREATE TABLE ok (x INTEGER)"])]) == [nxt]
    finally:
        con.close()


def test_a_lower_numbered_migration_merged_later_still_runs_once(db_path):
    # Branches reserve numbers: a file may already hold a higher number when a lower one lands.
    top = max(m.version for m in MIGRATIONS)
    without = [m for m in MIGRATIONS if m.version != top - 1]
    con = Connection.open(db_path)
    try:
        assert top - 1 not in migrate(con, without)
        assert migrate(con, MIGRATIONS) == [top - 1]  # the gap is filled, once
        assert migrate(con, MIGRATIONS) == []
    finally:
        con.close()
