"""Runs: generic job records, created running and finished with a status."""

from __future__ import annotations

import re

import pytest

from synthgate.errors import NotFound


def test_run_is_created_running_and_finished_with_status_and_summary(store):
    run = store.runs.create("generate", {"model": "qwen", "n": 10})
    assert re.fullmatch(r"run_[0-9a-f]{12}", run)
    assert store.runs.get(run).status == "running"
    store.runs.finish(run, "ok", {"samples": 10})
    info = store.runs.get(run)
    assert (info.kind, info.status, info.params, info.summary) == (
        "generate",
        "ok",
        {"model": "qwen", "n": 10},
        {"samples": 10},
    )
    assert info.finished_at is not None


def test_runs_list_newest_first_and_by_kind(store):
    a = store.runs.create("generate", {})
    b = store.runs.create("train", {})
    c = store.runs.create("generate", {})
    assert [r.id for r in store.runs.list()] == [c, b, a]
    assert [r.id for r in store.runs.list(kind="generate")] == [c, a]


def test_unknown_run_is_not_found_and_says_how_to_list_ids(store):
    with pytest.raises(NotFound, match="no run 'run_x' in .*; run `synthgate runs list"):
        store.runs.finish("run_x", "ok", {})


def test_run_params_with_a_credential_are_rejected(store):
    with pytest.raises(ValueError, match=r"params\.backend\.api_key looks like a secret"):
        store.runs.create("generate", {"backend": {"api_key": "sk-123"}})
    assert store.runs.list() == []
