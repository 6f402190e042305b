"""JobScheduler: workers never plan past the goal, rejects make room, errors and stops end the work."""

from __future__ import annotations

import threading
import time

import pytest

from synthgate.pipelines.personas import builtin_personas
from synthgate.pipelines.scheduler import JobScheduler, RunState
from synthgate.pipelines.tasks import Job
from synthgate.schemas.sample import Message, Sample
from synthgate.store.generations import JobRecord

PERSONA = builtin_personas()[0]


def plan(index: int) -> Job:
    return Job(index, "grounded", PERSONA, [])


def record(job: Job, status: str, text: str | None = None) -> JobRecord:
    sample = Sample(prompt=[Message(role="user", content="q")], completion=text or f"answer {job.index}")
    reason = None if status == "kept" else "leak.system_prompt_verbatim"
    return JobRecord(job.index, status, reason, "grounded", PERSONA.id, [], sample=sample)


def run_all(scheduler: JobScheduler, run, workers: int = 4) -> tuple[list[JobRecord], int]:
    """Run to the end with `workers` threads; (every record handed to the committer, wake-ups)."""
    threads = [threading.Thread(target=scheduler.work, args=(run,), daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    records, wakes = [], 0
    while True:
        batch, over = scheduler.wait(0.05)
        records += batch
        wakes += 1
        if over:
            break
    for t in threads:
        t.join(5)
    return records, wakes


def test_exactly_goal_jobs_are_kept_and_rejects_make_room_for_more():
    state = RunState("run_x", 6, goal=6)
    started: list[int] = []
    lock = threading.Lock()

    def run(job: Job) -> JobRecord:
        with lock:
            started.append(job.index)
        time.sleep(0.01)
        return record(job, "rejected" if job.index % 3 == 0 else "kept")

    records, _ = run_all(JobScheduler(iter(range(100)), plan, state, set()), run)
    assert (state.kept, state.rejected) == (6, 3)  # jobs 0, 3, 6 rejected; 1, 2, 4, 5, 7, 8 kept
    assert sorted(started) == list(range(9)), "a job was planned past the goal"
    assert sorted(r.job for r in records) == list(range(9))


def test_a_repeated_kept_sample_is_rejected_as_a_duplicate():
    state = RunState("run_x", 3, goal=3)
    records, _ = run_all(
        JobScheduler(iter(range(10)), plan, state, {"dummy"}),
        lambda job: record(job, "kept", text="the same answer"),
        workers=1,
    )
    assert [r.status for r in records][:2] == ["kept", "rejected"]
    assert state.kept == 1 and state.reasons == {"dup.exact_record": 9}  # ran out of jobs


def test_the_work_ends_when_the_job_indices_run_out():
    state = RunState("run_x", 50, goal=50)
    records, _ = run_all(JobScheduler(iter(range(5)), plan, state, set()), lambda j: record(j, "kept"))
    assert len(records) == 5 and state.kept == 5


def test_a_worker_error_stops_the_work_and_is_reported():
    state = RunState("run_x", 10, goal=10)

    def run(job: Job) -> JobRecord:
        if job.index == 2:
            raise RuntimeError("bug in job 2")
        return record(job, "kept")

    scheduler = JobScheduler(iter(range(100)), plan, state, set())
    run_all(scheduler, run, workers=1)
    assert isinstance(scheduler.error, RuntimeError) and "job 2" in str(scheduler.error)


def test_wait_returns_as_soon_as_want_jobs_are_ready_and_stop_drops_later_ones():
    state = RunState("run_x", 100, goal=100)
    gate = threading.Event()

    def run(job: Job) -> JobRecord:
        if job.index >= 3:
            gate.wait(5)
        return record(job, "kept")

    scheduler = JobScheduler(iter(range(100)), plan, state, set())
    threads = [threading.Thread(target=scheduler.work, args=(run,), daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    started = time.monotonic()
    batch, over = scheduler.wait(10.0, want=3)
    assert len(batch) >= 3 and not over and time.monotonic() - started < 5
    scheduler.stop()  # jobs 3.. are still running: they finish into a stopped scheduler
    kept_at_stop = state.kept
    gate.set()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)
    assert scheduler.wait(0.01) == ([], True)  # dropped, not handed to the committer
    assert state.kept == kept_at_stop  # nor counted


@pytest.mark.parametrize("workers", [1, 8])
def test_the_committer_wakes_per_interval_not_per_job(workers):
    state = RunState("run_x", 200, goal=200)
    records, wakes = run_all(
        JobScheduler(iter(range(200)), plan, state, set()), lambda j: record(j, "kept"), workers=workers
    )
    assert len(records) == 200
    assert wakes < 50, wakes  # 200 instant jobs, a wake-up every 0.05 s at most
