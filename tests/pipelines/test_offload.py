"""The validator chain and the job rows computed in a worker process store exactly what the
in-process path stores; a worker that dies stops the run with a clear error instead of hanging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pipeline_helpers import FAST_CHAIN, base_config

from synthgate.pipelines import offload, runner
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.offload import CheckWorker, CheckWorkerDied
from synthgate.pipelines.runner import generate
from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.sample import Sample
from synthgate.store import Store
from synthgate.validators.chain import Chain

pytestmark = pytest.mark.skipif(not offload.available(), reason="the check worker is forked (Linux)")

HELLO = Sample.model_validate({"prompt": [{"role": "user", "content": "Hi."}], "completion": "Hello."})
WITH_LENGTH = {"order": [*FAST_CHAIN["order"], "length"]}


def stored(db, run_id):
    with Store.open(db) as store:
        jobs = store._con.fetchall(
            "SELECT job, status, reason, sample_id, sample, verdicts, codes, prompt_tokens, "
            "completion_tokens FROM gen_jobs WHERE run_id = ? ORDER BY job",
            [run_id],
        )
        requests = store._con.fetchall(
            "SELECT job, seq, role, messages, text, error_kind FROM gen_requests WHERE run_id = ? "
            "ORDER BY job, seq",
            [run_id],
        )
        dataset = store.datasets.for_run(run_id)
        samples = [(r.index, r.sample.id, r.tokens) for r in store.samples.iter(dataset)]
    return jobs, requests, samples


@pytest.mark.parametrize("offloaded", [True, False])
def test_a_run_stores_the_same_jobs_requests_and_samples_with_or_without_the_check_worker(
    llm_server, write_config, api_key, tmp_path, offloaded
):
    # One request at a time, so the scripted behaviours (a loop, a leaked key) reach the same jobs.
    server = llm_server(teacher=[["ok"], ["loop"], ["secret"], ["ok"]])
    cfg = base_config(server.url, count=6, concurrency=1, critic=None, validators=WITH_LENGTH)
    config = load_generate_config(write_config(cfg))
    runs = {}
    for name, flag in (("worker", offloaded), ("reference", not offloaded)):
        db = tmp_path / f"{name}.duckdb"
        server.llm.plans.clear()
        server.llm.seen.clear()
        server.llm.teacher_script[:] = [["ok"], ["loop"], ["secret"], ["ok"]]
        with Store.open(db) as store:
            state = generate(config, store, base=tmp_path, offload=flag)
        runs[name] = stored(db, state.run_id)
    worker, reference = runs["worker"], runs["reference"]
    jobs = worker[0]
    assert {j[1] for j in jobs} == {"kept", "rejected"} and all(j[7] is not None for j in jobs)
    assert [j[:4] + j[5:] for j in worker[0]] == [j[:4] + j[5:] for j in reference[0]]
    assert [j[4] for j in worker[0]] == [j[4] for j in reference[0]]  # the masked sample JSON
    assert [r[:5] for r in worker[1]] == [r[:5] for r in reference[1]]
    assert worker[2] == reference[2] and len(worker[2]) == 6


def test_the_check_worker_gives_the_chains_verdicts_and_token_counts():
    config = ChainConfig.model_validate(WITH_LENGTH)
    sample = Sample.model_validate(
        {
            "prompt": [{"role": "user", "content": "Name a prime."}],
            "completion": "Seven is prime.\n\nQuestion: And another?\nAnswer: Eleven.",
        }
    )
    want = Chain(config).run(sample)  # first: the forked worker shares the loaded tokenizer
    worker = CheckWorker(config)
    try:
        got = worker.check(sample)
    finally:
        worker.close()
    assert got.verdicts == want.verdicts and got.tokens == want.tokens and got.sample == want.sample
    assert "loop.extra_qa_pair" in {v.code for v in got.verdicts}


def test_a_dead_check_worker_fails_the_calls_with_a_clear_error():
    worker = CheckWorker(ChainConfig.model_validate(FAST_CHAIN))
    try:
        os.kill(worker._process.pid, signal.SIGKILL)
        worker._process.join(timeout=10)
        with pytest.raises(CheckWorkerDied, match=r"the check worker process ended"):
            worker.check(HELLO)
        with pytest.raises(CheckWorkerDied, match=r"the check worker is closed"):
            worker.check(HELLO)
    finally:
        worker.close()


def test_a_run_whose_check_worker_dies_carries_on_in_process_and_stores_every_job(
    llm_server, write_config, api_key, tmp_path, monkeypatch
):
    server = llm_server(latency_s=0.05)
    started: list[CheckWorker] = []

    class Watched(CheckWorker):
        def __init__(self, config):
            super().__init__(config)
            started.append(self)

    monkeypatch.setattr(runner, "CheckWorker", Watched)

    def kill_after_three_requests():
        deadline = time.monotonic() + 60
        while server.llm.teacher_requests < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(started[0]._process.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_after_three_requests)
    config = load_generate_config(write_config(base_config(server.url, count=10, concurrency=2, critic=None)))
    killer.start()
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path, offload=True)
        jobs = store._con.fetchall("SELECT status, sample FROM gen_jobs WHERE run_id = ?", [state.run_id])
    killer.join()
    assert not started[0]._process.is_alive()
    assert (state.status, state.kept) == ("ok", 10)
    assert len(jobs) == state.jobs and all(sample is not None for _, sample in jobs)


def test_the_check_worker_exits_when_its_run_process_is_killed(tmp_path):
    script = (
        "import sys, time\n"
        "from synthgate.pipelines.offload import CheckWorker\n"
        "from synthgate.schemas.chain_config import ChainConfig\n"
        f"worker = CheckWorker(ChainConfig.model_validate({FAST_CHAIN!r}))\n"
        "print(worker._process.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), f"check worker {child} outlived its killed run process"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
