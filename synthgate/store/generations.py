"""Generation runs: every request/response (`gen_requests`) and every job's outcome (`gen_jobs`).

A job is one planned sample (job index in the run's deterministic plan). Its outcome row and all
the requests it made are written in one transaction, so a killed run loses only in-flight jobs,
and the (run_id, job) primary key makes a finished job impossible to store twice. Parameters are
checked for credentials before they are written (the key lives only in the backend client).
The one later change to a job row is the critic's top-fraction selection (`set_kept`), which moves
candidates between kept and rejected when the run ends.

A finished run is also a version source (`run_members_sql`, `source_counts`): its kept samples
become version members the way an audited dataset's records do.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict, record_status
from synthgate.store._common import dumps, loads, reject_secrets, utcnow
from synthgate.store.connection import Connection
from synthgate.store.runs import Runs

KIND = "generate"
JOB_STATUSES = ("kept", "rejected", "failed")

# A prompt's JSON text written the way samples.py writes it (json.dumps: ", " and ": "), so a
# version's prompt keys agree whether its members came from an audited file or a generation run.
_PROMPT_TEXT = """'[' || array_to_string(list_transform(
    from_json(sample->'prompt', '["JSON"]'),
    lambda m: '{"role": ' || json_extract(m, '$.role')::VARCHAR
              || ', "content": ' || json_extract(m, '$.content')::VARCHAR || '}'
), ', ') || ']'"""

# One row per kept sample of a run, shaped like version_samples (status derived from its verdicts
# exactly as for audited records: a blocking fail, else fixed, else pass).
RUN_MEMBERS_SQL = f"""
    WITH kept AS (
        SELECT job, sample_id, sample, codes, {_PROMPT_TEXT} AS prompt,
               from_json(verdicts, '[{{"status": "VARCHAR", "severity": "VARCHAR", "code": "VARCHAR"}}]')
                   AS vs
        FROM gen_jobs WHERE run_id = ? AND status = 'kept'
    )
    SELECT job AS source_index, sample_id,
           substr(sha256(coalesce('S' || (sample->>'system_prompt'), 'N') || chr(10) || prompt), 1, 16)
               AS prompt_key,
           CASE WHEN len(list_filter(vs, lambda v: v.status = 'fail' AND v.severity = 'block')) > 0
                    THEN 'fail'
                WHEN len(list_filter(vs, lambda v: v.status = 'fixed')) > 0 THEN 'fixed'
                ELSE 'pass' END AS status,
           list_sort(list_distinct(codes)) AS codes,
           list_sort(list_distinct(list_transform(list_filter(vs, lambda v: v.status = 'fail'),
                                                  lambda v: v.code))) AS fail_codes,
           sample->>'system_prompt' AS system_prompt, prompt, sample->>'completion' AS completion,
           sample->>'reasoning' AS reasoning, sample->>'task_type' AS task_type,
           coalesce(sample->'metadata', '{{}}') AS metadata
    FROM kept
"""


@dataclass(frozen=True)
class RequestRecord:
    """One try against a model: what was sent and what came back (or the error)."""

    role: str  # teacher | critic
    attempt: int  # output attempt (a new generation after invalid JSON)
    try_: int  # transport try within the attempt (after 429/5xx/timeout)
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


@dataclass(frozen=True)
class Progress:
    """What a run has finished: job indices done, and kept / rejected / failed counts."""

    done: set[int]
    counts: dict[str, int]
    reasons: dict[str, int]
    kept_ids: set[str]


class Generations:
    """Record and read generation runs."""

    def __init__(self, con: Connection, runs: Runs) -> None:
        self._con = con
        self._runs = runs

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

    def record_jobs(self, run_id: str, records: list[JobRecord]) -> None:
        """Store finished jobs and all their requests, in one transaction (all or none).

        One multi-row INSERT per table: a DuckDB statement and a commit cost about a millisecond
        each, which at high concurrency would make the store, not the model, the bottleneck.
        """
        for record in records:
            if record.status not in JOB_STATUSES:
                raise ValueError(f"job status must be one of {JOB_STATUSES}, not {record.status!r}")
            for r in record.requests:
                reject_secrets(r.params, "params")
        if not records:
            return
        now = utcnow()
        requests: list[list[Any]] = []
        jobs: list[list[Any]] = []
        for record in records:
            for seq, r in enumerate(record.requests):
                requests.append([
                    run_id, record.job, seq, r.role, r.attempt, r.try_, r.model, dumps(r.messages),
                    dumps(r.params), r.text, r.reasoning, r.finish_reason, r.prompt_tokens,
                    r.completion_tokens, r.latency_s, r.error_kind, r.error, now,
                ])  # fmt: skip
            s = record.sample
            jobs.append([
                run_id, record.job, record.status, record.reason, record.task_type, record.persona,
                dumps(record.source_ids), s.id if s else None,
                s.model_dump_json(exclude_defaults=True) if s else None,
                dumps([v.model_dump(mode="json", exclude_none=True) for v in record.verdicts]),
                sorted({v.code for v in record.verdicts}),
                dumps(record.critic_scores) if record.critic_scores else None,
                record.critic_rationale, now,
            ])  # fmt: skip
        with self._con.transaction():
            if requests:
                self._insert_rows("gen_requests", requests)
            self._insert_rows("gen_jobs", jobs)

    def _insert_rows(self, table: str, rows: list[list[Any]]) -> None:
        marks = "(" + ", ".join("?" * len(rows[0])) + ")"
        self._con.execute(
            f"INSERT INTO {table} VALUES {', '.join([marks] * len(rows))}", [v for row in rows for v in row]
        )

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

    def source_counts(self, run_id: str) -> tuple[dict[str, int], dict[str, int]]:
        """(status -> jobs, code -> jobs) over the jobs that produced a sample, for a version's source.

        A kept sample's status comes from its verdicts (pass or fixed); a rejected one is `fail`,
        whatever rejected it, and its reason counts beside its verdict codes.
        """
        statuses = {"pass": 0, "fixed": 0, "fail": 0}
        codes: dict[str, int] = {}
        for status, reason, verdicts, job_codes in self._con.stream(
            "SELECT status, reason, verdicts, codes FROM gen_jobs WHERE run_id = ? AND sample IS NOT NULL",
            [run_id],
        ):
            if status == "kept":
                statuses[record_status([Verdict.model_validate(v) for v in loads(verdicts) or []])] += 1
            else:
                statuses["fail"] += 1
            found = set(job_codes) | ({reason} if reason and status != "kept" else set())
            for code in found:
                codes[code] = codes.get(code, 0) + 1
        return statuses, dict(sorted(codes.items(), key=lambda kv: (-kv[1], kv[0])))

    def samples(self, run_id: str, status: str | None = "kept") -> Iterator[tuple[int, Sample]]:
        """(job, sample) in job order; only jobs with `status` (None: every job with a sample)."""
        sql = "SELECT job, sample FROM gen_jobs WHERE run_id = ? AND sample IS NOT NULL"
        params: list[Any] = [run_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        for job, sample in self._con.stream(sql + " ORDER BY job", params):
            yield job, Sample.model_validate_json(sample)

    def verdicts(self, run_id: str, job: int) -> list[Verdict]:
        """The validator verdicts stored with one job."""
        row = self._con.fetchone("SELECT verdicts FROM gen_jobs WHERE run_id = ? AND job = ?", [run_id, job])
        return [Verdict.model_validate(v) for v in loads(row[0]) or []] if row else []

    def requests(self, run_id: str, job: int | None = None) -> list[RequestRecord]:
        """Stored requests in (job, seq) order, all of the run's or one job's."""
        sql = (
            "SELECT role, attempt, try, model, messages, params, text, reasoning, finish_reason, "
            "prompt_tokens, completion_tokens, latency_s, error_kind, error "
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
        scores = [
            loads(r[0])
            for r in q(
                "SELECT critic_scores FROM gen_jobs WHERE run_id = ? AND critic_scores IS NOT NULL", [run_id]
            )
        ]
        return {
            "id": run.id,
            "name": run.params.get("name"),
            "status": run.status,
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


def _score_distribution(scores: list[dict[str, float]]) -> dict[str, Any]:
    """criterion -> {mean, histogram of rounded scores 1..5}."""
    out: dict[str, Any] = {}
    for name in sorted({k for s in scores for k in s}):
        values = [float(s[name]) for s in scores if name in s]
        hist = {str(b): sum(1 for v in values if round(v) == b) for b in range(1, 6)}
        out[name] = {"mean": round(statistics.fmean(values), 3), "histogram": hist}
    return out
