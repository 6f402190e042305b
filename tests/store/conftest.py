"""Fixtures for store tests: a real DuckDB file in tmp_path."""

from __future__ import annotations

import pytest

from synthgate.store import Store


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "s.duckdb"


@pytest.fixture
def store(db_path):
    with Store.open(db_path) as s:
        yield s
