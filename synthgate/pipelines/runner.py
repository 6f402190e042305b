"""`generate()`: plan jobs, run teacher -> validators -> critic on a thread pool, store each job.

Resumable by construction: the run's id is found by the config's identity hash, the job plan is a
pure function of (config, job index), and a job's outcome and requests are committed together. A
rerun skips every committed job and redoes only those that were in flight, or finished but not
yet committed (at most COMMIT_EVERY_S old), when the last process died. Jobs are submitted only
while `kept + in flight < count`, so the kept count can never pass `count` (a rejected job makes
room for the next one).

Why our own worker threads (`scheduler.JobScheduler`) rather than distilabel's Pipeline:
distilabel runs steps in subprocesses and caches whole batches to its own files, so a kill loses or
repeats batches and none of its state is in the store; resuming by job index needs per-job commits
in our own transaction.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthgate.errors import BackendError
from synthgate.pipelines.backends import Backend, Try, build_backend, call_with_retries, retry_policy
from synthgate.pipelines.config import BackendConfig, GenerateConfig
from synthgate.pipelines.critic import (
    SCORE_SCHEMA,
    SELF_CHECK_SCHEMA,
    critic_messages,
    mean_score,
    self_check_messages,
    top_jobs,
)
from synthgate.pipelines.offload import CheckWorker, CheckWorkerDied
from synthgate.pipelines.offload import available as offload_available
from synthgate.pipelines.personas import load_personas
from synthgate.pipelines.reply_checks import ReplyRejected, check_reply
from synthgate.pipelines.run_dataset import write_run_dataset
from synthgate.pipelines.scheduler import JobScheduler, RunState, count
from synthgate.pipelines.sources import load_chunks, load_prompts
from synthgate.pipelines.tasks import (
    INVALID_JSON,
    SCHEMA_VIOLATION,
    Job,
    JobPlanner,
    OutputError,
    build_sample,
    parse_output,
    teacher_prompt,
)
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import record_status
from synthgate.store import Store
from synthgate.store.generations import JobRecord, JobRows, RequestRecord
from synthgate.validators.base import Result
from synthgate.validators.chain import Chain
from synthgate.validators.codes import registered

log = logging.getLogger(__name__)


ProgressCallback = Callable[[RunState], None]


class JobRunner:
    """Runs one job end to end in a worker thread; returns its record, never raises for model faults."""

    def __init__(
        self,
        config: GenerateConfig,
        teacher: Backend,
        critic: Backend | None,
        chain: Chain,
        checker: CheckWorker | None = None,
    ) -> None:
        self._config = config
        self._teacher = teacher
        self._critic = critic
        self._chain = chain
        self._checker = checker  # the chain in a worker process, when the run has one
        # One chain call at a time: the validators are pure and the tokenizer's encode is
        # thread-safe, but not every validator is audited for concurrent use, and dropping the lock
        # measured no faster (benchmarks/generate_throughput.py).
        self._chain_lock = threading.Lock()

    def run(self, job: Job) -> JobRecord:
        requests: list[RequestRecord] = []
        base = {
            "task_type": job.task,
            "persona": job.persona.id,
            "source_ids": job.source_ids,
            "requests": requests,
        }
        prompt = teacher_prompt(job, self._config)
        teacher_cfg = self._config.teacher
        try:
            output, gen = self._ask(
                "teacher", self._teacher, teacher_cfg, prompt.messages, prompt.schema, requests
            )
        except _JobFailed as err:
            return JobRecord(job.index, "failed", err.code, **base)
        sample = build_sample(
            job,
            output,
            self._config,
            {
                "teacher_model": self._teacher.model,
                "generation_params": teacher_cfg.params.sent(),
                "finish_reason": gen.finish_reason,
                "prompt_tokens": gen.usage.get("prompt_tokens"),
                "completion_tokens": gen.usage.get("completion_tokens"),
            },
        )
        try:
            check_reply(job, prompt, output)
        except ReplyRejected as err:
            log.info("job %d: %s", job.index, err)
            return JobRecord(job.index, "rejected", err.code, sample=sample, **base)
        result = self._check(sample)
        sample, verdicts = result.sample, result.verdicts
        # The length check's counts, stored with the job and carried to the run's dataset.
        base["tokens"] = result.tokens
        if record_status(verdicts) == "fail":
            code = next(v.code for v in verdicts if v.blocks)
            return JobRecord(job.index, "rejected", code, sample=sample, verdicts=verdicts, **base)
        if self._config.self_check:
            try:
                check, _ = self._ask(
                    "self_check",
                    self._teacher,
                    teacher_cfg,
                    self_check_messages(job, sample),
                    SELF_CHECK_SCHEMA,
                    requests,
                )
            except _JobFailed as err:
                return JobRecord(job.index, "failed", err.code, sample=sample, verdicts=verdicts, **base)
            if not check["supported"]:
                return JobRecord(
                    job.index, "rejected", SELF_CHECK_FAILED, sample=sample, verdicts=verdicts, **base
                )
        if self._critic is None or self._config.critic is None:
            return JobRecord(job.index, "kept", None, sample=sample, verdicts=verdicts, **base)
        critic_cfg = self._config.critic
        try:
            scores, _ = self._ask(
                "critic", self._critic, critic_cfg, critic_messages(job, sample), SCORE_SCHEMA, requests
            )
        except _JobFailed as err:
            return JobRecord(job.index, "failed", err.code, sample=sample, verdicts=verdicts, **base)
        rationale = str(scores.pop("rationale", ""))
        numbers = {k: float(v) for k, v in scores.items()}
        meta = sample.metadata.model_copy(
            update={"critic_model": self._critic.model, "critic_scores": numbers}
        )
        sample = sample.replace(metadata=meta)
        keep = mean_score(numbers) >= critic_cfg.threshold
        return JobRecord(
            job.index,
            "kept" if keep else "rejected",
            None if keep else BELOW_THRESHOLD,
            sample=sample,
            verdicts=verdicts,
            critic_scores=numbers,
            critic_rationale=rationale,
            **base,
        )

    def _check(self, sample: Sample) -> Result:
        """The chain's result: from the check worker when the run has one, else in this thread (also
        when the worker died: the run carries on, only slower)."""
        if self._checker is not None:
            try:
                return self._checker.check(sample)
            except CheckWorkerDied as err:
                log.warning("checking in-process from now on: %s", err)
                self._checker = None
        with self._chain_lock:
            return self._chain.run_batch([sample])[0]

    def _ask(
        self,
        role: str,
        backend: Backend,
        cfg: BackendConfig,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        requests: list[RequestRecord],
    ) -> tuple[dict[str, Any], Any]:
        """A JSON object satisfying `schema`, asking again (up to json_retries) on invalid output."""
        params = cfg.params.sent()
        sent = {**params, "json_schema": schema}
        reasons = FAILED_REASONS[role]
        code = INVALID_JSON
        for attempt in range(cfg.json_retries + 1):

            def record(t: Try, attempt: int = attempt) -> None:
                g = t.generation
                requests.append(
                    RequestRecord(
                        role=role,
                        attempt=attempt,
                        retry=t.retry,
                        model=backend.model,
                        messages=messages,
                        params=params,
                        text=g.text if g else None,
                        reasoning=g.reasoning if g else None,
                        finish_reason=g.finish_reason if g else None,
                        prompt_tokens=g.usage.get("prompt_tokens") if g else None,
                        completion_tokens=g.usage.get("completion_tokens") if g else None,
                        latency_s=t.latency_s,
                        error_kind=t.error_kind,
                        error=t.error,
                        server=t.server,
                    )
                )

            try:
                gen = call_with_retries(backend, messages, sent, retry_policy(cfg), record)
            except BackendError as err:
                log.warning("%s request failed: %s", role, err)
                raise _JobFailed(reasons[BACKEND_ERROR]) from None
            try:
                return parse_output(gen.text, schema), gen
            except OutputError as err:
                code = err.code
                # Kept on the request row: the raw text is stored, the reason beside it.
                last = requests[-1]
                requests[-1] = RequestRecord(**{**last.__dict__, "error_kind": err.code, "error": str(err)})
        raise _JobFailed(reasons[code])


SELF_CHECK_FAILED = registered("selfcheck.unsupported")
BELOW_THRESHOLD = registered("critic.below_threshold")
BELOW_TOP_FRACTION = registered("critic.below_top_fraction")
BACKEND_ERROR = registered("gen.backend_error")
# A job's reason when a role's model gives no usable output, by what went wrong with its last
# reply (the OutputError code) or its requests (BACKEND_ERROR).
FAILED_REASONS: dict[str, dict[str, str]] = {
    "teacher": {
        INVALID_JSON: INVALID_JSON,
        SCHEMA_VIOLATION: SCHEMA_VIOLATION,
        BACKEND_ERROR: BACKEND_ERROR,
    },
    "critic": {
        INVALID_JSON: registered("critic.invalid_json"),
        SCHEMA_VIOLATION: registered("critic.schema_violation"),
        BACKEND_ERROR: registered("critic.backend_error"),
    },
    "self_check": {
        INVALID_JSON: registered("selfcheck.invalid_json"),
        SCHEMA_VIOLATION: registered("selfcheck.schema_violation"),
        BACKEND_ERROR: registered("selfcheck.backend_error"),
    },
}
# Finished jobs wait at most this long for others to share their commit.
COMMIT_EVERY_S = 0.1


class _JobFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def build_backends(config: GenerateConfig) -> tuple[Backend, Backend | None]:
    """Teacher and critic backends, keys read from their environment variables, loaded."""
    teacher = build_backend(config.teacher, config.teacher.resolve_api_key())
    critic = None
    if config.critic is not None:
        if _same_local_model(config.teacher, config.critic):
            # One in-process model serves both roles (its batcher keeps their requests apart):
            # loading it twice would double the memory and split the CPU between two copies.
            critic = teacher
        else:
            critic = build_backend(config.critic, config.critic.resolve_api_key())
    teacher.load()
    if critic is not None and critic is not teacher:
        critic.load()
    return teacher, critic


def _same_local_model(a: BackendConfig, b: BackendConfig) -> bool:
    return a.backend == b.backend == "local" and a.model == b.model and a.think == b.think


def close_backends(*backends: Backend | None) -> None:
    """Stop what backends run in the background (the local backend's batcher thread)."""
    for backend in {id(b): b for b in backends if b is not None}.values():
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def generate(
    config: GenerateConfig,
    store: Store,
    *,
    base: Path = Path("."),
    on_progress: ProgressCallback | None = None,
    stop_after_jobs: int | None = None,
    offload: bool | None = None,
) -> RunState:
    """Run (or resume) the generation run `config` describes until `count` samples are kept.

    `base` is where relative paths in the config point from. `stop_after_jobs` stops (as a kill
    would, leaving the run resumable) once that many jobs were committed by this call. `offload`:
    run the validator chain and build the store rows in a worker process (None: where one can be
    forked; see pipelines/offload.py); the stored results are the same either way.
    """
    chunks = load_chunks(config.sources, base)
    prompts = load_prompts(store, config.sources.prompts) if config.sources.prompts else None
    personas = load_personas(config.personas, base)
    planner = JobPlanner(config, chunks, personas, prompts)
    chain_config = config.chain_config(base)  # config errors before any model loads
    chain = Chain(chain_config)
    # Forked now: after the chain loaded its tokenizer, before any client or request thread exists.
    checker = CheckWorker(chain_config) if (offload_available() if offload is None else offload) else None
    try:
        teacher, critic = build_backends(config)
    except BaseException:
        if checker is not None:
            checker.close()
        raise
    worker = JobRunner(config, teacher, critic, chain, checker)

    gens = store.generations
    params = {
        "name": config.name,
        "count": config.count,
        "config": config.model_dump(mode="json"),
        # What `version create --source run_...` needs without importing the pipeline: the
        # chain the samples were checked with (max_length applied) and the model names.
        "chain_config": chain_config.model_dump(mode="json"),
        "teacher_model": teacher.model,
        "student_model": config.student_model_name(),
    }
    with store.transaction():
        run_id, resumed = gens.start(config.identity(), params)
    gens.prepare()
    progress = gens.progress(run_id)
    state = RunState(run_id, config.count, resumed=resumed, reasons=dict(progress.reasons), **progress.counts)
    state.goal = candidate_goal(config)
    if config.critic is not None and config.critic.keep_top is not None:
        # Candidates already moved below the cut by an earlier selection still count towards the goal.
        demoted = state.reasons.pop(BELOW_TOP_FRACTION, 0)
        state.kept += demoted
        state.rejected -= demoted
    if on_progress:
        on_progress(state)
    indices = (i for i in range(config.job_limit()) if i not in progress.done)
    scheduler = JobScheduler(indices, planner.job, state, set(progress.kept_ids))
    committed = 0

    def commit(records: list[JobRecord]) -> None:
        nonlocal committed
        if records:
            # Group commit: each job is still whole or absent after a kill (its outcome and its
            # requests go in one transaction), and one DuckDB commit per COMMIT_EVERY_S instead of
            # one per job keeps the store from being the bottleneck at high concurrency.
            gens.record_jobs(run_id, records, _rows(checker, run_id, records))
            committed += len(records)
            if on_progress:
                on_progress(state)

    workers = [
        threading.Thread(target=scheduler.work, args=(worker.run,), name=f"synthgate-gen-{i}", daemon=True)
        for i in range(config.concurrency)
    ]
    for thread in workers:
        thread.start()
    try:
        while True:
            want = None if stop_after_jobs is None else max(1, stop_after_jobs - committed)
            records, over = scheduler.wait(COMMIT_EVERY_S, want)
            stopping = stop_after_jobs is not None and committed + len(records) >= stop_after_jobs
            if stopping:
                # Start nothing more before this commit (which may wait for the check worker):
                # what finished is kept, the jobs in flight are redone on resume, as after a kill.
                records += scheduler.stop()
            commit(records)
            if scheduler.error is not None:
                raise scheduler.error
            if stopping:
                state.status = "stopped"
                return state
            if over:
                break
    except KeyboardInterrupt:
        commit(scheduler.stop())  # Ctrl-C: keep what finished; the jobs in flight are redone on resume
        store.runs.finish(run_id, "interrupted", _finish_summary(state))
        raise
    except BaseException:
        for record in scheduler.stop():  # the summary counts what the store holds
            count(state, record, -1)
        store.runs.finish(run_id, "interrupted", _finish_summary(state))
        raise
    finally:
        # Jobs still in flight are dropped uncommitted (their daemon threads finish into a stopped
        # scheduler); a rerun redoes them.
        scheduler.stop()
        close_backends(teacher, critic)
        if checker is not None:
            checker.close()
    if config.critic is not None and config.critic.keep_top is not None:
        _select_top(config, store, state)
    state.status = "ok" if state.kept >= config.count else "incomplete"
    with store.transaction():
        # One transaction: a run is never finished without the dataset of its kept samples.
        state.dataset_id = write_run_dataset(store, run_id, chain_config, _run_counts(state))
        store.runs.finish(run_id, state.status, _finish_summary(state))
    return state


def _rows(checker: CheckWorker | None, run_id: str, records: list[JobRecord]) -> JobRows | None:
    """The records' store rows from the check worker; None (built in-process by record_jobs) when
    there is none or it died: a commit never depends on the worker."""
    if checker is None or not records:
        return None
    try:
        return checker.rows(run_id, records)
    except CheckWorkerDied as err:
        log.warning("building store rows in-process: %s", err)
        return None


def candidate_goal(config: GenerateConfig) -> int:
    """Samples to collect before selection: `count`, or count / critic.keep_top candidates."""
    keep_top = config.critic.keep_top if config.critic is not None else None
    return config.count if keep_top is None else math.ceil(config.count / keep_top)


def _select_top(config: GenerateConfig, store: Store, state: RunState) -> None:
    """Keep the best `count` candidates (fewer when the job limit cut the run short); demote the rest.

    Re-selecting from every candidate, demoted ones included, makes this idempotent on resume.
    """
    keep_top = config.critic.keep_top if config.critic is not None else None
    assert keep_top is not None
    gens = store.generations
    scored = gens.candidates(state.run_id, BELOW_TOP_FRACTION)
    n = config.count if len(scored) >= state.goal else math.floor(len(scored) * keep_top)
    best = top_jobs(scored, n)
    with store.transaction():
        gens.set_kept(state.run_id, best, set(scored) - best, BELOW_TOP_FRACTION)
    state.kept = len(best)
    state.rejected += len(scored) - len(best)
    if len(scored) > len(best):
        state.reasons[BELOW_TOP_FRACTION] = len(scored) - len(best)


def _run_counts(state: RunState) -> dict[str, Any]:
    return {
        "requested": state.requested,
        "kept": state.kept,
        "rejected": state.rejected,
        "failed": state.failed,
        "reasons": state.reasons,
    }


def _finish_summary(state: RunState) -> dict[str, Any]:
    summary = _run_counts(state)
    if state.dataset_id is not None:
        summary["dataset_id"] = state.dataset_id
    return summary
