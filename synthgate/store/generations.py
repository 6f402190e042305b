"""Generation runs: every request/response (`gen_requests`) and every job's outcome (`gen_jobs`).

A job is one planned sample (job index in the run's deterministic plan). Its outcome row and all
the requests it made are written in one transaction, so a killed run loses only in-flight jobs,
and the (run_id, job) primary key makes a finished job impossible to store twice. Parameters are
checked for credentials before they are written (the key lives only in the backend client).
The one later change to a job row is the critic's top-fraction selection (`set_kept`), which moves
candidates between kept and rejected when the run ends.

When a run finishes, its kept samples are also written as a dataset (samples, verdicts, set
findings, `datasets.run_id` = the run; see pipelines/run_dataset.py): that dataset, not these
tables, is what `version create --source run_...` and `datasets show` read. These tables stay the
run's provenance: which job, which requests, which persona and task.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pyarrow as pa

from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict
from synthgate.store.common import dumps, loads, reject_secrets, utcnow
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.runs import Runs
from synthgate.validators.secrets import mask_sample, mask_secrets, mask_strings

KIND = "generate"
JOB_STATUSES = ("kept", "rejected", "failed")


@dataclass(frozen=True)
class RequestRecord:
    """One try against a model: what was sent and what came back (or the error)."""

    role: str  # teacher | critic
    attempt: int  # output attempt (a new generation after invalid JSON)
    retry: int  # transport retry within the attempt (after 429/5xx/timeout); column `try`
    model: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    text: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    error_kind: str | None = None
    error: str | None = None
    server: str | None = None  # the server it went to, when the role lists several


@dataclass(frozen=True)
class JobRecord:
    """A finished job: kept, rejected (validators, critic) or failed (no usable output)."""

    job: int
    status: str
    reason: str | None
    task_type: str
    persona: str
    source_ids: list[str]
    sample: Sample | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    critic_scores: dict[str, float] = field(default_factory=dict)
    critic_rationale: str | None = None
    requests: list[RequestRecord] = field(default_factory=list)
    # (prompt, completion) tokens as the chain's length check counted them; None without one.
    tokens: tuple[int, int] | None = None


@dataclass(frozen=True)
class Progress:
    """What a run has finished: job indices done, and kept / rejected / failed counts."""

    done: set[int]
    counts: dict[str, int]
    reasons: dict[str, int]
    kept_ids: set[str]


class Generations:
    """Record and read generation runs."""

    def __init__(self, con: Connection, runs: Runs, datasets: Datasets) -> None:
        self._con = con
        self._runs = runs
        self._datasets = datasets

    def find_run(self, identity: str) -> str | None:
        """The newest generate run with this config identity, None when there is none."""
        row = self._con.fetchone(
            "SELECT id FROM runs WHERE kind = ? AND json_extract_string(params, '$.identity') = ? "
            "ORDER BY seq DESC LIMIT 1",
            [KIND, identity],
        )
        return row[0] if row else None

    def start(self, identity: str, params: dict[str, Any]) -> tuple[str, bool]:
        """The run for `identity`, resumed (True) or created; a resumed run is marked running again."""
        run_id = self.find_run(identity)
        if run_id is not None:
            # Same identity, same samples; params are refreshed so they describe the latest start.
            reject_secrets(params, "params")
            self._con.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, params = ? WHERE id = ?",
                [dumps({**params, "identity": identity}), run_id],
            )
            return run_id, True
        return self._runs.create(KIND, {**params, "identity": identity}), False

    def progress(self, run_id: str) -> Progress:
        rows = self._con.fetchall(
            "SELECT job, status, reason, sample_id FROM gen_jobs WHERE run_id = ?", [run_id]
        )
        counts = dict.fromkeys(JOB_STATUSES, 0)
        reasons: dict[str, int] = {}
        for _, status, reason, _ in rows:
            counts[status] += 1
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
        kept = {r[3] for r in rows if r[1] == "kept"}
        return Progress({r[0] for r in rows}, counts, reasons, kept)

    def record_job(self, run_id: str, record: JobRecord) -> None:
        """Store a finished job and all its requests, in one transaction."""
        self.record_jobs(run_id, [record])

    def record_jobs(self, run_id: str, records: list[JobRecord], rows: JobRows | None = None) -> None:
        """Store finished jobs and all their requests, in one transaction (all or none).

        One multi-row INSERT per table: a DuckDB statement and a commit cost about a millisecond
        each, which at high concurrency would make the store, not the model, the bottleneck.
        `rows`: `job_rows(run_id, records)` when already built (in a worker process, off the
        request path); built here otherwise.
        """
        for record in records:
            if record.status not in JOB_STATUSES:
                raise ValueError(f"job status must be one of {JOB_STATUSES}, not {record.status!r}")
            for r in record.requests:
                reject_secrets(r.params, "params")
        if not records:
            return
        requests, jobs = rows if rows is not None else job_rows(run_id, records)
        with self._con.transaction():
            if requests:
                self._insert_rows("gen_requests", _REQUEST_COLUMNS, requests)
            self._insert_rows("gen_jobs", _JOB_COLUMNS, jobs)

    def _insert_rows(self, table: str, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
        # Through Arrow: binding the parameters of a multi-row INSERT cost about twice the CPU
        # (benchmarks/generate_throughput.py); generate() calls prepare_arrow() before its threads
        # start, so the first insert's one-off cost does not land on the run's first commit.
        types = _REQUEST_TYPES if table == "gen_requests" else _JOB_TYPES
        data = pa.table(
            {name: pa.array([row[i] for row in rows], types[name]) for i, name in enumerate(columns)}
        )
        self._con.insert_arrow(table, data)

    def prepare(self) -> None:
        """Get the store ready for a run's commits (see `Connection.prepare_arrow`)."""
        self._con.prepare_arrow()

    def candidates(self, run_id: str, demoted_reason: str) -> dict[int, dict[str, float]]:
        """job -> critic scores of every kept job and every job demoted with `demoted_reason`."""
        rows = self._con.fetchall(
            "SELECT job, critic_scores FROM gen_jobs WHERE run_id = ? AND critic_scores IS NOT NULL "
            "AND (status = 'kept' OR (status = 'rejected' AND reason = ?))",
            [run_id, demoted_reason],
        )
        return {int(job): loads(scores) for job, scores in rows}

    def set_kept(self, run_id: str, keep: set[int], demote: set[int], reason: str) -> None:
        """Mark `keep` jobs kept and `demote` jobs rejected with `reason` (the critic's top-fraction cut)."""
        self._con.execute(
            "UPDATE gen_jobs SET status = 'kept', reason = NULL WHERE run_id = ? AND list_contains(?, job)",
            [run_id, sorted(keep)],
        )
        self._con.execute(
            "UPDATE gen_jobs SET status = 'rejected', reason = ? WHERE run_id = ? AND list_contains(?, job)",
            [reason, run_id, sorted(demote)],
        )

    def samples(self, run_id: str, status: str | None = "kept") -> Iterator[tuple[int, Sample]]:
        """(job, sample) in job order; only jobs with `status` (None: every job with a sample)."""
        sql = "SELECT job, sample FROM gen_jobs WHERE run_id = ? AND sample IS NOT NULL"
        params: list[Any] = [run_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        for job, sample in self._con.stream(sql + " ORDER BY job", params):
            yield job, Sample.model_validate_json(sample)

    def kept_ids(self, run_id: str) -> list[tuple[int, str]]:
        """(job, sample id) of every kept job, in job order."""
        rows = self._con.fetchall(
            "SELECT job, sample_id FROM gen_jobs WHERE run_id = ? AND status = 'kept' "
            "AND sample IS NOT NULL ORDER BY job",
            [run_id],
        )
        return [(int(job), sid) for job, sid in rows]

    def kept(
        self, run_id: str, after: int = -1, limit: int = 1000
    ) -> list[tuple[int, Sample, list[Verdict], tuple[int, int] | None]]:
        """(job, sample, chain verdicts, chain token counts) of up to `limit` kept jobs after job
        `after`, in job order.

        A page, not a stream: the caller may write to the store between pages (in a transaction
        DuckDB allows one open result per connection).
        """
        rows = self._con.fetchall(
            "SELECT job, sample, verdicts, prompt_tokens, completion_tokens FROM gen_jobs "
            "WHERE run_id = ? AND status = 'kept' AND sample IS NOT NULL AND job > ? ORDER BY job LIMIT ?",
            [run_id, after, limit],
        )
        return [
            (
                job,
                Sample.model_validate_json(s),
                [Verdict.model_validate(v) for v in loads(vs)],
                (int(p), int(c)) if p is not None and c is not None else None,
            )
            for job, s, vs, p, c in rows
        ]

    def verdicts(self, run_id: str, job: int) -> list[Verdict]:
        """The validator verdicts stored with one job."""
        row = self._con.fetchone("SELECT verdicts FROM gen_jobs WHERE run_id = ? AND job = ?", [run_id, job])
        return [Verdict.model_validate(v) for v in loads(row[0]) or []] if row else []

    def requests(self, run_id: str, job: int | None = None) -> list[RequestRecord]:
        """Stored requests in (job, seq) order, all of the run's or one job's."""
        sql = (
            "SELECT role, attempt, try, model, messages, params, text, reasoning, finish_reason, "
            "prompt_tokens, completion_tokens, latency_s, error_kind, error, server "
            "FROM gen_requests WHERE run_id = ?"
        )
        params: list[Any] = [run_id]
        if job is not None:
            sql += " AND job = ?"
            params.append(job)
        rows = self._con.fetchall(sql + " ORDER BY job, seq", params)
        return [RequestRecord(r[0], r[1], r[2], r[3], loads(r[4]), loads(r[5]), *r[6:]) for r in rows]

    def summary(self, run_id: str) -> dict[str, Any]:
        """Counts for `synthgate runs show`: jobs by status and reason, codes, coverage, critic, errors."""
        run = self._runs.get(run_id)
        q = self._con.fetchall
        by_status = dict.fromkeys(JOB_STATUSES, 0)
        by_status.update(
            {
                s: int(n)
                for s, n in q(
                    "SELECT status, count(*) FROM gen_jobs WHERE run_id = ? GROUP BY status", [run_id]
                )
            }
        )
        reasons = q(
            "SELECT reason, count(*) AS n FROM gen_jobs WHERE run_id = ? AND status <> 'kept' "
            "GROUP BY reason ORDER BY n DESC, reason",
            [run_id],
        )
        codes = q(
            "SELECT code, count(*) AS n FROM (SELECT unnest(codes) AS code FROM gen_jobs WHERE run_id = ?) "
            "GROUP BY code ORDER BY n DESC, code",
            [run_id],
        )
        coverage: dict[str, dict[str, int]] = {}
        for persona, task, n in q(
            "SELECT persona, task_type, count(*) FROM gen_jobs WHERE run_id = ? AND status = 'kept' "
            "GROUP BY ALL ORDER BY ALL",
            [run_id],
        ):
            coverage.setdefault(persona, {})[task] = int(n)
        req = q(
            "SELECT role, count(*), count(error_kind), sum(prompt_tokens), sum(completion_tokens), "
            "median(latency_s) FROM gen_requests WHERE run_id = ? GROUP BY role ORDER BY role",
            [run_id],
        )
        errors = q(
            "SELECT error_kind, count(*) AS n FROM gen_requests WHERE run_id = ? AND error_kind IS NOT NULL "
            "GROUP BY error_kind ORDER BY n DESC, error_kind",
            [run_id],
        )
        servers = q(
            "SELECT server, count(*), count(error_kind) FROM gen_requests WHERE run_id = ? "
            "AND server IS NOT NULL GROUP BY server ORDER BY server",
            [run_id],
        )
        scores = [
            loads(r[0])
            for r in q(
                "SELECT critic_scores FROM gen_jobs WHERE run_id = ? AND critic_scores IS NOT NULL", [run_id]
            )
        ]
        out = {
            "id": run.id,
            "name": run.params.get("name"),
            "status": run.status,
            # The kept samples as a dataset (None until the run finishes): `datasets show` reads it.
            "dataset_id": self._datasets.for_run(run_id),
            "requested": run.params.get("count"),
            "jobs": sum(by_status.values()),
            "attempts": sum(int(r[1]) for r in req),
            "samples_by_status": by_status,
            "reject_reasons": {r or "-": int(n) for r, n in reasons},
            "codes": {c: int(n) for c, n in codes},
            "coverage": coverage,
            "requests": {
                r[0]: {
                    "requests": int(r[1]),
                    "errors": int(r[2]),
                    "prompt_tokens": int(r[3] or 0),
                    "completion_tokens": int(r[4] or 0),
                    "median_latency_s": round(float(r[5]), 4) if r[5] is not None else None,
                }
                for r in req
            },
            "errors_by_kind": {k: int(n) for k, n in errors},
            "critic": _score_distribution(scores),
            "created_at": str(run.created_at),
            "finished_at": str(run.finished_at) if run.finished_at else None,
        }
        if servers:  # a role listed several servers: how the requests spread, and where they failed
            out["servers"] = {url: {"requests": int(n), "errors": int(e)} for url, n, e in servers}
        return out


def _score_distribution(scores: list[dict[str, float]]) -> dict[str, Any]:
    """criterion -> {mean, histogram of rounded scores 1..5}."""
    out: dict[str, Any] = {}
    for name in sorted({k for s in scores for k in s}):
        values = [float(s[name]) for s in scores if name in s]
        hist = {str(b): sum(1 for v in values if round(v) == b) for b in range(1, 6)}
        out[name] = {"mean": round(statistics.fmean(values), 3), "histogram": hist}
    return out


def _masked(text: str | None) -> str | None:
    return mask_secrets(text) if text is not None else None


# (gen_requests rows, gen_jobs rows), each a list of column values in table order.
JobRows = tuple[list[list[Any]], list[list[Any]]]


def job_rows(run_id: str, records: list[JobRecord]) -> JobRows:
    """The rows `record_jobs` inserts for `records`: every text masked, JSON serialized.

    Pure (no store): a worker process can build them, so masking and serializing stay off the
    process that sends the requests.
    """
    now = utcnow()
    requests: list[list[Any]] = []
    jobs: list[list[Any]] = []
    masked_messages: dict[int, str] = {}  # the tries of one request share their messages list
    for record in records:
        for seq, r in enumerate(record.requests):
            # Masked like every other row: a teacher may echo a key from its documents. The job
            # keeps the unmasked sample id, so resume and duplicate checks see one identity.
            messages = masked_messages.get(id(r.messages))
            if messages is None:
                messages = masked_messages[id(r.messages)] = dumps(_masked_messages(r.messages))
            requests.append([
                run_id, record.job, seq, r.role, r.attempt, r.retry, r.model,
                messages, dumps(r.params), _masked(r.text),
                _masked(r.reasoning), r.finish_reason, r.prompt_tokens, r.completion_tokens,
                r.latency_s, r.error_kind, _masked(r.error), now, _masked(r.server),
            ])  # fmt: skip
        s = record.sample
        jobs.append([
            run_id, record.job, record.status, record.reason, record.task_type, record.persona,
            dumps(record.source_ids), s.id if s else None,
            mask_sample(s).model_dump_json(exclude_defaults=True) if s else None,
            dumps([mask_strings(v.model_dump(mode="json", exclude_none=True)) for v in record.verdicts]),
            sorted({v.code for v in record.verdicts}),
            dumps(record.critic_scores) if record.critic_scores else None,
            _masked(record.critic_rationale), now,
            record.tokens[0] if record.tokens else None, record.tokens[1] if record.tokens else None,
        ])  # fmt: skip
    return requests, jobs


@lru_cache(maxsize=16)
def _masked_system_prompt(text: str) -> str:
    # Every request of a role repeats its system prompt: scanned for secrets once, not per request.
    return mask_secrets(text)


def _masked_messages(messages: list[dict[str, Any]]) -> list[Any]:
    """`mask_strings(messages)`, with the system prompts' masks cached."""
    return [
        {"role": "system", "content": _masked_system_prompt(m["content"])}
        if m.keys() == {"role", "content"} and m["role"] == "system" and isinstance(m["content"], str)
        else mask_strings(m)
        for m in messages
    ]


# Column order of the rows record_jobs builds.
_REQUEST_COLUMNS = (
    "run_id", "job", "seq", "role", "attempt", "try", "model", "messages", "params", "text", "reasoning",
    "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "error_kind", "error", "created_at",
    "server",
)  # fmt: skip
_STR, _INT, _TIME = pa.string(), pa.int64(), pa.timestamp("us")
_REQUEST_TYPES = {
    "run_id": _STR, "job": _INT, "seq": pa.int32(), "role": _STR, "attempt": pa.int32(), "try": pa.int32(),
    "model": _STR, "messages": _STR, "params": _STR, "text": _STR, "reasoning": _STR, "finish_reason": _STR,
    "prompt_tokens": _INT, "completion_tokens": _INT, "latency_s": pa.float64(), "error_kind": _STR,
    "error": _STR, "created_at": _TIME, "server": _STR,
}  # fmt: skip
_JOB_TYPES = {
    "run_id": _STR, "job": _INT, "status": _STR, "reason": _STR, "task_type": _STR, "persona": _STR,
    "source_ids": _STR, "sample_id": _STR, "sample": _STR, "verdicts": _STR, "codes": pa.list_(_STR),
    "critic_scores": _STR, "critic_rationale": _STR, "created_at": _TIME, "prompt_tokens": _INT,
    "completion_tokens": _INT,
}  # fmt: skip
_JOB_COLUMNS = (
    "run_id", "job", "status", "reason", "task_type", "persona", "source_ids", "sample_id", "sample",
    "verdicts", "codes", "critic_scores", "critic_rationale", "created_at", "prompt_tokens",
    "completion_tokens",
)  # fmt: skip
