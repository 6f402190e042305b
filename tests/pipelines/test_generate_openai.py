"""End to end against a scripted OpenAI-compatible server on 127.0.0.1: what is stored, kept, rejected."""

from __future__ import annotations

import json

import pytest
from llm_server import REASONING
from pipeline_helpers import base_config

from synthgate.errors import ConfigError
from synthgate.pipelines.config import DEFAULT_SYSTEM_PROMPT, load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store


def run(path, db=None):
    config = load_generate_config(path)
    with Store.open(db or path.parent / config.store) as store:
        state = generate(config, store, base=path.parent)
    return config, state


def jobs(db, run_id):
    with Store.open(db) as store:
        summary = store.generations.summary(run_id)
        rows = store._con.fetchall(
            "SELECT job, status, reason, codes FROM gen_jobs WHERE run_id = ? ORDER BY job", [run_id]
        )
        requests = store.generations.requests(run_id)
        kept = list(store.generations.samples(run_id))
    return summary, rows, requests, kept


def test_clean_server_keeps_exactly_count_samples_with_critic_scores(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server()
    path = write_config(base_config(server.url))
    config, state = run(path)
    assert (state.status, state.kept, state.rejected, state.failed) == ("ok", 6, 0, 0)
    summary, rows, requests, kept = jobs(tmp_path / "synthgate.duckdb", state.run_id)
    assert summary["samples_by_status"] == {"kept": 6, "rejected": 0, "failed": 0}
    assert len(kept) == 6 and len({s.id for _, s in kept}) == 6
    for _, sample in kept:
        assert sample.system_prompt == DEFAULT_SYSTEM_PROMPT
        assert sample.metadata.critic_scores == {
            "groundedness": 4,
            "correctness": 4,
            "relevance": 4,
            "format": 4,
        }
        assert sample.metadata.teacher_model == "teacher-x" and sample.metadata.critic_model == "critic-x"
        assert sample.metadata.persona and sample.metadata.source_ids
        assert sample.prompt[0].content.startswith("Context:\n[c_")
    # One teacher and one critic request per job, each stored with messages, params, text and usage.
    assert [r.role for r in requests].count("teacher") == 6 and [r.role for r in requests].count(
        "critic"
    ) == 6
    teacher = next(r for r in requests if r.role == "teacher")
    assert teacher.params == {"temperature": 0.7, "max_tokens": 512}
    assert teacher.messages[0]["role"] == "system" and json.loads(teacher.text)["answer"]
    assert (teacher.finish_reason, teacher.prompt_tokens, teacher.completion_tokens) == ("stop", 100, 40)
    assert summary["critic"]["groundedness"] == {
        "mean": 4.0,
        "histogram": {"1": 0, "2": 0, "3": 0, "4": 6, "5": 0},
    }
    tasks = {s.task_type for _, s in kept}
    assert tasks <= {"grounded", "synthesis", "refusal"} and "grounded" in tasks


def test_misbehaving_teacher_is_rejected_with_verdicts_and_count_is_still_reached(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(
        teacher=[["leak"], ["loop"], ["think"], ["bad_json", "ok"], ["think_outside"], ["length"], ["echo"]],
        critic=[["ok"], ["low"]],
        student_system_prompt=DEFAULT_SYSTEM_PROMPT,
    )
    path = write_config(base_config(server.url, count=8, concurrency=1))
    _, state = run(path)
    assert (state.status, state.kept) == ("ok", 8)
    summary, rows, requests, kept = jobs(tmp_path / "synthgate.duckdb", state.run_id)
    by_reason = {r[2]: r for r in rows if r[1] != "kept"}
    # The scripted teacher answers from the passages alone: a chunk planned twice repeats a sample.
    assert set(by_reason) - {"dup.exact_record"} == {
        "leak.system_prompt_verbatim",
        "loop.extra_qa_pair",
        "loop.finish_reason_length",
        "critic.below_threshold",
        "gen.instruction_echo",
    }
    assert "leak.system_prompt_verbatim" in by_reason["leak.system_prompt_verbatim"][3]
    with Store.open(tmp_path / "synthgate.duckdb") as store:
        leak_job = by_reason["leak.system_prompt_verbatim"][0]
        verdicts = store.generations.verdicts(state.run_id, leak_job)
        leak_raw = store.generations.requests(state.run_id, leak_job)[0].text
    leak = next(v for v in verdicts if v.code == "leak.system_prompt_verbatim")
    assert leak.span is not None and leak.span.start == 0 and leak.span.end >= len(DEFAULT_SYSTEM_PROMPT) - 1
    assert DEFAULT_SYSTEM_PROMPT in json.loads(leak_raw)["answer"]
    # The thinking sample: kept after the think block was stripped; the reasoning field is stored
    # on the request only, never in any sample.
    thought = [s for _, s in kept if "think.stripped" in _codes(rows, s)]
    assert len(thought) == 1 and thought[0].completion.startswith("According to the context")
    assert any(r.reasoning == REASONING for r in requests)
    assert all(REASONING not in s.model_dump_json() and "<think>" not in s.completion for _, s in kept)
    # Bad JSON then good JSON: two attempts for one job, the first marked invalid with its raw text.
    bad = [r for r in requests if r.error_kind == "gen.invalid_json"]
    assert len(bad) == 1 and bad[0].text.startswith("Sure! Here is the JSON")
    assert summary["requested"] == 8 and summary["errors_by_kind"] == {"gen.invalid_json": 1}


def _codes(rows, sample):
    job = sample.metadata.extra["job"]
    return next(r[3] for r in rows if r[0] == job)


def test_transient_server_faults_are_retried_and_every_try_is_stored(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(teacher=[["429", "ok"], ["500", "500", "ok"], ["timeout", "ok"], ["drop", "ok"]])
    cfg = base_config(server.url, count=5, concurrency=2, critic=None)
    cfg["teacher"]["timeout_s"] = 0.5
    path = write_config(cfg)
    _, state = run(path)
    assert (state.status, state.kept, state.failed) == ("ok", 5, 0)
    summary, _, requests, _ = jobs(tmp_path / "synthgate.duckdb", state.run_id)
    assert summary["errors_by_kind"] == {"server_error": 2, "connection": 1, "rate_limit": 1, "timeout": 1}
    assert summary["attempts"] == 5 + 5
    retried = [r for r in requests if r.retry > 0]
    assert len(retried) == 5 and all(r.error_kind is None or r.error_kind == "server_error" for r in retried)


def test_a_teacher_that_never_returns_valid_json_is_a_recorded_failed_attempt(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(teacher=[["bad_json"], ["bad_schema"]])
    cfg = base_config(server.url, count=3, concurrency=1, critic=None)
    cfg["teacher"]["json_retries"] = 1
    _, state = run(write_config(cfg))
    assert (state.kept, state.failed) == (3, 2)
    summary, rows, requests, _ = jobs(tmp_path / "synthgate.duckdb", state.run_id)
    assert summary["reject_reasons"] == {"gen.invalid_json": 1, "gen.schema_violation": 1}
    failed = [r for r in requests if r.error_kind and r.error_kind.startswith("gen.")]
    assert len(failed) == 4 and all(r.attempt in (0, 1) and r.text for r in failed)
    assert any("c_000000000000" in r.text and "sources" in r.error for r in failed)


def test_server_errors_past_max_retries_fail_the_job_not_the_run(llm_server, write_config, api_key, tmp_path):
    server = llm_server(teacher=[["500"]])
    cfg = base_config(server.url, count=2, concurrency=1, critic=None)
    cfg["teacher"]["max_retries"] = 2
    _, state = run(write_config(cfg))
    assert (state.status, state.kept, state.failed, state.reasons) == ("ok", 2, 1, {"gen.backend_error": 1})


def test_missing_api_key_names_the_variable_to_set(llm_server, write_config, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = write_config(base_config("http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY .*is not set"):
        run(path)


def test_the_api_key_never_reaches_the_store_file_or_logs(
    llm_server, write_config, api_key, tmp_path, caplog
):
    server = llm_server(teacher=[["500", "ok"], ["leak"]], student_system_prompt=DEFAULT_SYSTEM_PROMPT)
    caplog.set_level("DEBUG")
    _, state = run(write_config(base_config(server.url, count=3)))
    assert state.kept == 3
    # The server did receive it, so the test can fail if the key were stored.
    assert any(h.get("authorization") == f"Bearer {api_key}" for h in server.llm.headers)
    for file in tmp_path.glob("synthgate.duckdb*"):
        assert api_key.encode() not in file.read_bytes()
    assert api_key not in caplog.text
