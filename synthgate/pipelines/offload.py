"""`CheckWorker`: the validator chain and the rows of finished jobs, computed in a worker process.

Against a fast server the pipeline's own CPU is the limit, and Python threads share one interpreter
lock: the chain's checks (a tokenizer pass, regex scans) and the masking and JSON of each job's
store rows, done beside the threads that send the requests, slow the requests down. The worker
process takes both. A request thread hands over its sample and waits for the verdicts (as it waits
for the server); the committing thread hands over the finished jobs and gets their rows back, and
only the INSERT stays in this process (DuckDB has one writer, and the commit is what makes a job
whole or absent after a kill, as before).

Calls are batched: while the process works on one batch, the calls that arrive queue and go
together, so crossing the process boundary costs one pickle and one round trip per batch, not
per sample. `Chain.run_batch` over several samples gives each the verdicts it gives it alone (the
validators are pure), so the stored results do not depend on how calls were batched.

The process is forked when a run starts, before any request thread or client exists, from the
process that already built the chain (the tokenizer is loaded once and shared). Where fork is not
the platform's way (Windows, macOS), `available()` is False and the run checks in-process.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import sys
import threading
import traceback
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.sample import Sample
from synthgate.store.generations import JobRecord, JobRows, job_rows
from synthgate.validators.base import Result
from synthgate.validators.chain import Chain


class CheckWorkerDied(RuntimeError):
    """The worker process ended or failed (the run carries on in-process)."""


def available() -> bool:
    """Whether a worker process can be forked here (Linux)."""
    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


class CheckWorker:
    """One forked process running the chain and building job rows, fed in batches (thread-safe)."""

    def __init__(self, chain_config: ChainConfig) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve, args=(child, self._conn, chain_config), name="synthgate-check", daemon=True
        )
        self._process.start()
        child.close()
        self._cond = threading.Condition()
        self._pending: list[tuple[str, Any, Future]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._dispatch, name="synthgate-check-dispatch", daemon=True)
        self._thread.start()

    def check(self, sample: Sample) -> Result:
        """The chain's result for `sample`, computed in the worker process."""
        return self._submit("check", sample).result()

    def rows(self, run_id: str, records: list[JobRecord]) -> JobRows:
        """`store.generations.job_rows(run_id, records)`, built in the worker process."""
        return self._submit("rows", (run_id, records)).result()

    def close(self) -> None:
        """Stop the worker process (the calls still queued fail)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
        with contextlib.suppress(OSError):  # the process may be gone already
            self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        self._conn.close()

    def _submit(self, kind: str, payload: Any) -> Future:
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise CheckWorkerDied("the check worker is closed")
            self._pending.append((kind, payload, future))
            self._cond.notify()
        return future

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    batch, self._pending = self._pending, []
                    _fail(batch, CheckWorkerDied("the check worker was closed"))
                    return
                batch, self._pending = self._pending, []
            checks = [p for kind, p, _ in batch if kind == "check"]
            rows = [p for kind, p, _ in batch if kind == "rows"]
            try:
                self._conn.send((checks, rows))
                status, result = self._conn.recv()
            except (EOFError, OSError) as err:
                with self._cond:
                    self._closed = True
                    batch += self._pending
                    self._pending = []
                _fail(batch, CheckWorkerDied(f"the check worker process ended: {err or type(err).__name__}"))
                return
            if status != "ok":
                _fail(batch, CheckWorkerDied(f"the check worker failed:\n{result}"))
                continue
            checked, built = iter(result[0]), iter(result[1])
            for kind, _, future in batch:
                future.set_result(next(checked) if kind == "check" else next(built))


def _fail(batch: list[tuple[str, Any, Future]], err: BaseException) -> None:
    for _, _, future in batch:
        future.set_exception(err)


def _serve(conn: Connection, parent_end: Connection, chain_config: ChainConfig) -> None:
    """The worker process: answer each (samples, row requests) batch until told to stop, or until
    the run's process is gone (its end of the pipe closes, even after a SIGKILL)."""
    parent_end.close()  # forked with both ends: holding the run's end would hide its death
    # Ctrl-C reaches the whole process group: the run handles it (committing what finished, which
    # may need this process), then closes the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    chain = Chain(chain_config)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        samples, row_requests = message
        try:
            checked = chain.run_batch(samples) if samples else []
            built = [job_rows(run_id, records) for run_id, records in row_requests]
        except Exception:  # a bug: reported to the run, which stops
            conn.send(("error", traceback.format_exc()))
            continue
        conn.send(("ok", (checked, built)))
