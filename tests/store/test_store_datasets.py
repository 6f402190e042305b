"""Datasets: ids, listing, finishing, set findings, NotFound and the secrets guard."""

from __future__ import annotations

import re

import pytest
from store_helpers import new_dataset

from synthgate.errors import NotFound
from synthgate.schemas.verdict import SetFinding
from synthgate.store import Store


def test_created_dataset_reads_back_with_its_options_and_an_unfinished_summary(store):
    ds = new_dataset(store, options={"fmt": "alpaca", "system_prompt": None})
    info = store.datasets.get(ds)
    assert re.fullmatch(r"ds_[0-9a-f]{12}", ds)
    assert (info.name, info.source_path, info.fmt) == ("demo.jsonl", "/data/demo.jsonl", "auto")
    assert info.options == {"fmt": "alpaca", "system_prompt": None}
    assert info.chain_config == {"order": ["thinking", "leakage"]}
    assert info.summary is None and info.finished_at is None
    assert info.created_at.tzinfo is not None


def test_finish_records_summary_and_finish_time(db_path):
    with Store.open(db_path) as store:
        ds = new_dataset(store)
        store.datasets.finish(ds, {"records": 3, "status_counts": {"pass": 3}})
    with Store.open(db_path) as store:
        info = store.datasets.get(ds)
    assert info.summary == {"records": 3, "status_counts": {"pass": 3}}
    assert info.finished_at >= info.created_at


def test_list_is_newest_first_and_ids_are_unique(store):
    ids = [new_dataset(store, name=f"d{i}.jsonl") for i in range(5)]
    listed = store.datasets.list()
    assert [d.id for d in listed] == ids[::-1]
    assert len(set(ids)) == 5


def test_unknown_dataset_is_not_found_and_says_how_to_list_ids(store):
    with pytest.raises(
        NotFound, match=r"no dataset 'ds_000000000000' in .*s\.duckdb; run `synthgate datasets list"
    ):
        store.datasets.get("ds_000000000000")
    with pytest.raises(NotFound, match="no dataset"):
        store.datasets.finish("ds_000000000000", {})
    with pytest.raises(NotFound, match="no dataset"):
        list(store.report_rows("ds_000000000000"))


def test_set_findings_round_trip_in_order(store):
    ds = new_dataset(store)
    findings = [
        SetFinding(
            code="dup.near_share",
            severity="block",
            message="12% near duplicates",
            count=12,
            share=0.12,
            details={"pairs": [[1, 2]], "threshold": 92.0},
        ),
        SetFinding(code="set.shared_system_prompt", message="one system prompt", count=80),
    ]
    store.datasets.add_findings(ds, findings[:1])
    store.datasets.add_findings(ds, findings[1:])
    assert store.datasets.findings(ds) == findings


@pytest.mark.parametrize(
    ("where", "config"),
    [
        ("options.api_key", {"api_key": "sk-live-123"}),
        ("chain_config.backend.openai_api_key", {"backend": {"openai_api_key": "sk-123"}}),
        ("options.auth_token", {"auth_token": "ghp_abc"}),
        ("chain_config.judges[0].password", {"judges": [{"password": "hunter2"}]}),
        ("options.clientSecret", {"clientSecret": "s3cr3t"}),
    ],
)
def test_credentials_in_options_or_chain_config_are_rejected(store, where, config):
    field = where.split(".")[0]
    with pytest.raises(ValueError, match=re.escape(where) + " looks like a secret"):
        new_dataset(store, **{field: config})
    assert store.datasets.list() == []


def test_settings_that_only_mention_secrets_are_accepted(store):
    config = {
        "backend": {"api_key_env": "OPENAI_API_KEY", "api_key": "", "token": None},
        "secrets": {"api_key_severity": "block"},
        "generation_params": {"max_tokens": 512},
        "masked": {"api_key": "**********"},
    }
    ds = new_dataset(store, chain_config=config)
    assert store.datasets.get(ds).chain_config == config


def test_findings_summary_and_options_quoting_records_are_stored_masked(store):
    key = "gl" + "pat-" + "Q7rT2vX9kL4mN8pW3zY6"
    ds = new_dataset(store, options={"system_prompt": f"Use {key}"})
    finding = SetFinding(
        code="set.shared_system_prompt",
        message=f"80 records share 'Use {key}'",
        count=80,
        details={"text": key},
    )
    store.datasets.add_findings(ds, [finding])
    store.datasets.finish(
        ds, summary={"diversity": {"top_openings": [{"opening": f"Use {key}", "count": 3}]}}
    )
    dumped = repr((store.datasets.get(ds), store.datasets.findings(ds)))
    assert key not in dumped and dumped.count("glpa" + "*" * (len(key) - 6)) == 4
