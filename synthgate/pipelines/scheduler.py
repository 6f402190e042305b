"""`JobScheduler`: the worker threads' shared state during a run, and the run's live counts.

Workers take the next job themselves while `kept + running < goal` and hand back what they
finished; the committing thread sleeps until a commit is due (every `commit_every_s`, `want`
finished jobs, or the end of the work) and takes everything finished so far in one go. The
committing thread wakes a few times a second instead of once per job: at high concurrency on a
small machine those wake-ups, each competing with every worker for the GIL, cost more CPU than the
jobs' own bookkeeping (measured with benchmarks/generate_throughput.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from synthgate.pipelines.tasks import Job
from synthgate.store.generations import JobRecord


@dataclass
class RunState:
    """Live counts, passed to the progress callback after each group commit."""

    run_id: str
    requested: int
    kept: int = 0
    rejected: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    status: str = "running"
    goal: int = 0  # samples to collect before selection: `requested`, or more under critic.keep_top
    dataset_id: str | None = None  # the kept samples as a dataset, once the run finished

    @property
    def jobs(self) -> int:
        return self.kept + self.rejected + self.failed


def count(state: RunState, record: JobRecord, step: int = 1) -> None:
    """Add (or with step -1, take back) one finished job to the live counts."""
    setattr(state, record.status, getattr(state, record.status) + step)
    if record.reason:
        state.reasons[record.reason] = state.reasons.get(record.reason, 0) + step


class JobScheduler:
    """Hands out jobs while `kept + running < goal`; collects finished jobs for the committer."""

    def __init__(
        self, indices: Iterator[int], plan: Callable[[int], Job], state: RunState, kept_ids: set[str]
    ) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # workers waiting for room under the goal
        self._ready = threading.Condition(self._lock)  # the committer waiting for finished jobs
        self._indices = indices
        self._plan = plan
        self._state = state
        self._kept_ids = kept_ids
        self._running = 0
        self._exhausted = False
        self._unsaved: list[JobRecord] = []
        self._want: int | None = None
        self._stopped = False
        self.error: BaseException | None = None

    def work(self, run: Callable[[Job], JobRecord]) -> None:
        """A worker thread's loop: take a job, run it, hand it back, until there is none to take."""
        while (job := self._take()) is not None:
            try:
                record = run(job)
            except BaseException as err:  # a bug, not a model fault (JobRunner records those)
                self._finish(None, err)
                return
            self._finish(record, None)

    def wait(self, timeout_s: float, want: int | None = None) -> tuple[list[JobRecord], bool]:
        """Finished jobs not yet taken (after up to `timeout_s`, or as soon as `want` are ready), and
        whether the work is over (nothing running and nothing more to start, or stopped)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._want = want
            while not self._over() and (want is None or len(self._unsaved) < want):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._ready.wait(remaining)
            self._want = None
            records, self._unsaved = self._unsaved, []
            return records, self._over()

    def stop(self) -> list[JobRecord]:
        """Start nothing more and drop what finishes from now on; returns what finished but was not taken."""
        with self._lock:
            self._stopped = True
            self._work.notify_all()
            records, self._unsaved = self._unsaved, []
            return records

    def _take(self) -> Job | None:
        with self._lock:
            while not self._stopped:
                state = self._state
                if state.kept + self._running < state.goal:
                    index = next(self._indices, None)
                    if index is None:
                        self._exhausted = True
                        self._ready.notify_all()
                        return None
                    self._running += 1
                    # Planned under the lock: the planner's caches are not shared safely otherwise.
                    return self._plan(index)
                if self._running == 0:
                    return None  # the goal is reached
                self._work.wait()  # a running job may be rejected and make room
            return None

    def _finish(self, record: JobRecord | None, error: BaseException | None) -> None:
        with self._lock:
            self._running -= 1
            self._work.notify_all()
            if self._stopped:
                return
            if error is not None:
                self.error, self._stopped = error, True
                self._ready.notify_all()
                return
            assert record is not None
            if record.status == "kept" and record.sample is not None:
                if record.sample.id in self._kept_ids:
                    # The teacher repeated itself: a second copy would teach nothing new.
                    record = replace(record, status="rejected", reason="dup.exact_record")
                self._kept_ids.add(record.sample.id)
            self._unsaved.append(record)
            # Counted now, so `_take` never plans past the goal; a kill before the commit loses
            # only these counts, and a rerun redoes their jobs.
            count(self._state, record)
            if self._over() or (self._want is not None and len(self._unsaved) >= self._want):
                self._ready.notify_all()

    def _over(self) -> bool:
        if self._stopped:
            return True
        goal_met = self._state.kept >= self._state.goal
        return self._running == 0 and (self._exhausted or goal_met)
