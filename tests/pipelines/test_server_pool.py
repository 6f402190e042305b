"""One run over several servers (`base_url` as a list): requests spread over them, a failing server's
tries are retried on another, every try is stored with its server, and the run resumes with another
server list. The servers are the scripted OpenAI-wire servers on 127.0.0.1 (tests/pipelines/llm_server.py)."""

from __future__ import annotations

import pytest
from pipeline_helpers import base_config
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.errors import ConfigError
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store

runner = CliRunner()
# Every prompt it is sent gets a 500, for teacher and critic alike (the last plan repeats).
ALWAYS_500 = [["500"]] * 1000


def pooled(*servers, **overrides):
    urls = [f"{s.url}/v1" for s in servers]
    cfg = base_config(servers[0].url, **overrides)
    for role in ("teacher", "critic"):
        if cfg.get(role) is not None:
            cfg[role]["base_url"] = urls
    return cfg


def tries(db, run_id):
    with Store.open(db) as store:
        return store._con.fetchall(
            "SELECT job, role, attempt, try, server, error_kind FROM gen_requests WHERE run_id = ? "
            "ORDER BY job, seq",
            [run_id],
        )


def test_requests_spread_over_two_healthy_servers(llm_server, write_config, api_key, tmp_path):
    a, b = llm_server(latency_s=0.02), llm_server(latency_s=0.02)
    config = load_generate_config(write_config(pooled(a, b, count=12, concurrency=4)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        summary = store.generations.summary(state.run_id)
    assert (state.status, state.kept) == ("ok", 12)
    sent = {url: len(s.llm.bodies) for url, s in ((f"{a.url}/v1", a), (f"{b.url}/v1", b))}
    assert summary["servers"] == {url: {"requests": n, "errors": 0} for url, n in sent.items()}
    total = sum(sent.values())
    assert total == summary["attempts"]
    assert min(sent.values()) >= total // 4  # least-loaded with round-robin ties: both carry the run


def test_a_failing_servers_tries_are_retried_on_the_other_and_all_stored(
    llm_server, write_config, api_key, tmp_path
):
    good = llm_server()
    bad = llm_server(teacher=ALWAYS_500, critic=ALWAYS_500, self_check=ALWAYS_500)
    # max_retries 1: a retry that went back to the failing server would fail the job.
    cfg = pooled(good, bad, count=10, concurrency=4)
    for role in ("teacher", "critic"):
        cfg[role]["max_retries"] = 1
    config = load_generate_config(write_config(cfg))
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        state = generate(config, store, base=tmp_path)
        summary = store.generations.summary(state.run_id)
    assert (state.status, state.kept, state.failed) == ("ok", 10, 0)
    rows = tries(db, state.run_id)
    good_url, bad_url = f"{good.url}/v1", f"{bad.url}/v1"
    failed = [r for r in rows if r[5] is not None]
    assert failed and {r[4] for r in failed} == {bad_url}
    assert {r[5] for r in failed} == {"server_error"}
    for job, role, attempt, try_, _, _ in failed:
        retry = next(r for r in rows if r[:3] == (job, role, attempt) and r[3] == try_ + 1)
        assert retry[4] == good_url and retry[5] is None  # the next try went to the healthy server
    # Every request either server saw is a stored try, with the server it went to.
    assert summary["servers"] == {
        good_url: {"requests": len(good.llm.bodies), "errors": 0},
        bad_url: {"requests": len(bad.llm.bodies), "errors": len(bad.llm.bodies)},
    }
    assert len(rows) == len(good.llm.bodies) + len(bad.llm.bodies)
    shown = runner.invoke(app, ["runs", "show", state.run_id, "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert f"server {bad_url}: {len(bad.llm.bodies)} requests, {len(bad.llm.bodies)} errors" in shown.output
    # Failures put the bad server in cool-down: most requests went to the good one.
    assert len(bad.llm.bodies) < len(good.llm.bodies)


def test_a_run_resumes_with_another_server_list(llm_server, write_config, api_key, tmp_path):
    a, b = llm_server(), llm_server()
    db = tmp_path / "s.duckdb"
    both = load_generate_config(write_config(pooled(a, b, count=8, concurrency=2)))
    with Store.open(db) as store:
        first = generate(both, store, base=tmp_path, stop_after_jobs=3)
    assert first.status == "stopped"
    done = {job for job, *_ in tries(db, first.run_id)}
    # b is gone: the rerun lists a alone (still a list), and finds the same run.
    only_a = load_generate_config(write_config(pooled(a, count=8, concurrency=2)))
    sent_to_b = len(b.llm.bodies)
    with Store.open(db) as store:
        second = generate(only_a, store, base=tmp_path)
    assert (second.run_id, second.resumed, second.status, second.kept) == (first.run_id, True, "ok", 8)
    assert len(b.llm.bodies) == sent_to_b
    later = [r for r in tries(db, first.run_id) if r[0] not in done]
    assert later and {r[4] for r in later} == {None}  # one server: no server column, as with a string


def test_a_server_list_leaves_the_servers_out_of_the_run_identity(tmp_path):
    cfg = base_config("http://127.0.0.1:9")
    single = load_generate_config(write_yaml(tmp_path / "one.yaml", cfg))
    identities = set()
    for servers in (
        ["http://127.0.0.1:9/v1"],
        ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"],
        ["http://x/v1"],
    ):
        cfg["teacher"]["base_url"] = servers
        identities.add(load_generate_config(write_yaml(tmp_path / "listed.yaml", cfg)).identity())
    assert len(identities) == 1
    # A single URL written as a string stays in the identity, as it always was.
    assert single.identity() not in identities


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        ({"base_url": []}, r"teacher\.base_url: Value error, an empty list"),
        (
            {"base_url": ["http://a/v1", "http://a/v1"]},
            r"teacher\.base_url: Value error, lists a server twice",
        ),
        (
            {"backend": "distilabel", "llm_class": "OpenAILLM", "base_url": ["http://a/v1", "http://b/v1"]},
            r"applies to backends openai and ollama, not distilabel",
        ),
    ],
)
def test_a_bad_server_list_is_a_config_error_naming_the_key(tmp_path, teacher, message):
    cfg = base_config("http://127.0.0.1:9")
    cfg["teacher"] = {**cfg["teacher"], **teacher}
    cfg["teacher"]["params"] = {"max_tokens": 64}
    with pytest.raises(ConfigError, match=message):
        load_generate_config(write_yaml(tmp_path / "bad.yaml", cfg))


def write_yaml(path, cfg):
    import yaml

    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path
