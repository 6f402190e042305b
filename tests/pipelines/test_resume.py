"""A stopped or killed run resumes: no duplicates, finished jobs not redone, the kept count reached."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from pipeline_helpers import base_config

from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store


def _prompt_key(messages):
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def _snapshot(db, run_id):
    with Store.open(db) as store:
        jobs = store._con.fetchall(
            "SELECT job, status, sample_id, created_at FROM gen_jobs WHERE run_id = ? ORDER BY job", [run_id]
        )
        requests = {job: store.generations.requests(run_id, job) for job, *_ in jobs}
    return jobs, requests


def test_a_run_stopped_after_some_jobs_resumes_without_redoing_or_duplicating(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(teacher=[["leak"]], student_system_prompt="")
    path = write_config(base_config(server.url, count=8, concurrency=3))
    config = load_generate_config(path)
    db = tmp_path / "synthgate.duckdb"
    with Store.open(db) as store:
        first = generate(config, store, base=tmp_path, stop_after_jobs=3)
    assert first.status == "stopped" and 3 <= first.jobs < 8
    before, before_requests = _snapshot(db, first.run_id)
    with Store.open(db) as store:
        assert store.runs.get(first.run_id).status == "running"
        second = generate(config, store, base=tmp_path)
    assert (second.run_id, second.resumed, second.status, second.kept) == (first.run_id, True, "ok", 8)
    after, after_requests = _snapshot(db, first.run_id)
    assert after[: len(before)] == before or set(before) <= set(after)
    for job, requests in before_requests.items():
        assert after_requests[job] == requests
        teacher = next(r for r in requests if r.role == "teacher")
        assert server.llm.seen[_prompt_key(teacher.messages)] == 1, f"job {job} was generated again"
    kept_ids = [sid for _, status, sid, _ in after if status == "kept"]
    assert len(kept_ids) == 8 == len(set(kept_ids))


def test_rerunning_a_finished_run_does_no_work(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    config = load_generate_config(write_config(base_config(server.url, count=3, critic=None)))
    with Store.open(tmp_path / "synthgate.duckdb") as store:
        first = generate(config, store, base=tmp_path)
        requests = server.llm.teacher_requests
        again = generate(config, store, base=tmp_path)
    assert (again.run_id, again.resumed, again.kept, again.jobs) == (first.run_id, True, 3, 3)
    assert server.llm.teacher_requests == requests


def test_a_changed_config_is_a_new_run_but_concurrency_is_not(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    a = load_generate_config(write_config(base_config(server.url, count=2, critic=None)))
    b = load_generate_config(write_config(base_config(server.url, count=2, critic=None, concurrency=1)))
    c = load_generate_config(write_config(base_config(server.url, count=2, critic=None, seed=7)))
    assert a.identity() == b.identity() != c.identity()


def test_a_run_killed_with_sigkill_resumes_to_exactly_count(llm_server, write_config, api_key, tmp_path):
    server = llm_server(latency_s=0.15)
    path = write_config(base_config(server.url, count=12, concurrency=2, critic=None))
    db = tmp_path / "synthgate.duckdb"
    cmd = [sys.executable, "-m", "synthgate.cli.app", "generate", str(path), "--db", str(db)]
    env = {**os.environ, "OPENAI_API_KEY": api_key}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while server.llm.teacher_requests < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Store.open(db) as store:
        (run,) = store.runs.list(kind="generate")
    before, before_requests = _snapshot(db, run.id)
    assert 0 < len(before) < 12

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == run.id
    after, after_requests = _snapshot(db, run.id)
    assert set(before) <= set(after)
    assert {job: after_requests[job] for job in before_requests} == before_requests
    kept = [sid for _, status, sid, _ in after if status == "kept"]
    assert len(kept) == 12 == len(set(kept))
    with Store.open(db) as store:
        dataset_id = store.datasets.for_run(run.id)
        assert [r.sample.id for r in store.samples.iter(dataset_id)] == kept
    for requests in before_requests.values():
        assert server.llm.seen[_prompt_key(requests[0].messages)] == 1
