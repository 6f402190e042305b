"""Versioned schema. Each migration runs once, in its own transaction, recorded in `schema_version`.

To change the schema, append a Migration (never edit an applied one): the next `Store.open` applies
it. Example for the versions table to come:

    Migration(2, "versions", ["CREATE TABLE versions (id VARCHAR PRIMARY KEY, ...)"])
"""

from __future__ import annotations

from dataclasses import dataclass

from synthgate.errors import StoreError
from synthgate.store.common import utcnow
from synthgate.store.connection import Connection


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: list[str]


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "datasets, samples, verdicts, set findings, runs",
        [
            "CREATE SEQUENCE datasets_seq",
            """CREATE TABLE datasets (
                id VARCHAR PRIMARY KEY,
                seq BIGINT NOT NULL DEFAULT nextval('datasets_seq'),
                name VARCHAR NOT NULL,
                source_path VARCHAR,
                source_sha256 VARCHAR,
                fmt VARCHAR,
                options JSON,
                chain_config JSON,
                summary JSON,
                created_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP
            )""",
            # One row per input record, readable or not; columns, not a blob, so later SQL
            # (versions, dedup) can work on them.
            """CREATE TABLE samples (
                dataset_id VARCHAR NOT NULL,
                idx BIGINT NOT NULL,
                sample_id VARCHAR,
                input_id VARCHAR,
                system_prompt VARCHAR,
                prompt JSON,
                completion VARCHAR,
                reasoning VARCHAR,
                task_type VARCHAR,
                metadata JSON,
                original JSON,
                raw VARCHAR,
                PRIMARY KEY (dataset_id, idx)
            )""",
            # seq keeps the order verdicts were produced in (chain order, then set-level ones).
            """CREATE TABLE verdicts (
                dataset_id VARCHAR NOT NULL,
                idx BIGINT NOT NULL,
                seq BIGINT NOT NULL,
                validator VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                severity VARCHAR NOT NULL,
                code VARCHAR NOT NULL,
                message VARCHAR NOT NULL,
                span_field VARCHAR,
                span_start BIGINT,
                span_end BIGINT,
                score DOUBLE
            )""",
            """CREATE TABLE set_findings (
                dataset_id VARCHAR NOT NULL,
                seq BIGINT NOT NULL,
                code VARCHAR NOT NULL,
                severity VARCHAR NOT NULL,
                message VARCHAR NOT NULL,
                count BIGINT NOT NULL,
                share DOUBLE,
                details JSON
            )""",
            "CREATE SEQUENCE runs_seq",
            """CREATE TABLE runs (
                id VARCHAR PRIMARY KEY,
                seq BIGINT NOT NULL DEFAULT nextval('runs_seq'),
                kind VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                params JSON,
                summary JSON,
                created_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP
            )""",
        ],
    ),
    Migration(
        2,
        "versions",
        [
            "CREATE SEQUENCE versions_seq",
            # A version is frozen at creation: its members are copied (not referenced), and no
            # code path updates or deletes these rows. DuckDB has no triggers or privileges to
            # forbid it at the database level; Versions.verify() detects rows altered by hand.
            """CREATE TABLE versions (
                id VARCHAR PRIMARY KEY,
                seq BIGINT NOT NULL DEFAULT nextval('versions_seq'),
                name VARCHAR NOT NULL,
                parent_id VARCHAR,
                source_id VARCHAR NOT NULL,
                source_kind VARCHAR NOT NULL,
                include JSON NOT NULL,
                chain_config JSON NOT NULL,
                tokenizer VARCHAR,
                max_length BIGINT,
                samples BIGINT NOT NULL,
                source_status_counts JSON NOT NULL,
                member_status_counts JSON NOT NULL,
                source_code_counts JSON NOT NULL,
                source_findings JSON NOT NULL,
                teacher_models JSON NOT NULL,
                created_at TIMESTAMP NOT NULL
            )""",
            # Members, copied from the source with their derived status and codes. prompt_key
            # hashes system prompt + prompt turns, so diffs can tell a changed answer from a new one.
            """CREATE TABLE version_samples (
                version_id VARCHAR NOT NULL,
                source_index BIGINT NOT NULL,
                sample_id VARCHAR NOT NULL,
                prompt_key VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                codes VARCHAR[] NOT NULL,
                fail_codes VARCHAR[] NOT NULL,
                system_prompt VARCHAR,
                prompt JSON NOT NULL,
                completion VARCHAR NOT NULL,
                reasoning VARCHAR,
                task_type VARCHAR,
                metadata JSON,
                PRIMARY KEY (version_id, source_index)
            )""",
        ],
    ),
    Migration(
        3,
        "generation runs: requests and job outcomes",
        [
            # Every request/response of a generate run, and one outcome row per finished job;
            # written together per job (see store/generations.py).
            """CREATE TABLE gen_requests (
                run_id VARCHAR NOT NULL,
                job BIGINT NOT NULL,
                seq INTEGER NOT NULL,
                role VARCHAR NOT NULL,
                attempt INTEGER NOT NULL,
                try INTEGER NOT NULL,
                model VARCHAR NOT NULL,
                messages JSON NOT NULL,
                params JSON,
                text VARCHAR,
                reasoning VARCHAR,
                finish_reason VARCHAR,
                prompt_tokens BIGINT,
                completion_tokens BIGINT,
                latency_s DOUBLE,
                error_kind VARCHAR,
                error VARCHAR,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (run_id, job, seq)
            )""",
            """CREATE TABLE gen_jobs (
                run_id VARCHAR NOT NULL,
                job BIGINT NOT NULL,
                status VARCHAR NOT NULL,
                reason VARCHAR,
                task_type VARCHAR NOT NULL,
                persona VARCHAR NOT NULL,
                source_ids JSON NOT NULL,
                sample_id VARCHAR,
                sample JSON,
                verdicts JSON NOT NULL,
                codes VARCHAR[] NOT NULL,
                critic_scores JSON,
                critic_rationale VARCHAR,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (run_id, job)
            )""",
        ],
    ),
    Migration(
        4,
        "samples: the shard and line each record was read from",
        [
            # A dataset may be read from several files (shards); `shard` numbers the record's file
            # in the dataset summary's `shards` list, `line` is its 1-based line there (JSONL, CSV).
            "ALTER TABLE samples ADD COLUMN shard INTEGER",
            "ALTER TABLE samples ADD COLUMN line BIGINT",
        ],
    ),
    Migration(
        5,
        "a generation run's kept samples are a dataset",
        [
            # The run a dataset was generated by (NULL for an audited file): its samples' idx is
            # the job index in gen_jobs, where the requests, persona and task of each stay.
            "ALTER TABLE datasets ADD COLUMN run_id VARCHAR",
        ],
    ),
    Migration(
        6,
        "token counts per record",
        [
            # (prompt, completion) tokens as the length check counted them through the chat template,
            # before its own repair; NULL when the chain ran no length check (or the record is
            # unreadable). The HTML report draws its histograms from these in SQL.
            "ALTER TABLE samples ADD COLUMN prompt_tokens BIGINT",
            "ALTER TABLE samples ADD COLUMN completion_tokens BIGINT",
        ],
    ),
    Migration(
        7,
        "verdicts name the eval record they match; generated jobs keep token counts, requests their server",
        [
            # The record of another file a verdict is about (contamination: the eval item's file and
            # index), so the report can count hits per eval file without parsing messages.
            "ALTER TABLE verdicts ADD COLUMN ref_source VARCHAR",
            "ALTER TABLE verdicts ADD COLUMN ref_index BIGINT",
            # The chain's (prompt, completion) token counts of a job's sample, carried to the run's
            # dataset (samples.prompt_tokens/completion_tokens) when the run finishes.
            "ALTER TABLE gen_jobs ADD COLUMN prompt_tokens BIGINT",
            "ALTER TABLE gen_jobs ADD COLUMN completion_tokens BIGINT",
            # The server a request went to when the role's base_url lists several (NULL: the one).
            "ALTER TABLE gen_requests ADD COLUMN server VARCHAR",
        ],
    ),
]


def current_version(con: Connection) -> int:
    """The highest applied migration, 0 for a new file."""
    row = con.fetchone("SELECT coalesce(max(version), 0) FROM schema_version")
    return int(row[0]) if row else 0


def migrate(con: Connection, migrations: list[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations this file lacks; returns the versions applied (empty when up to date)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    have = current_version(con)
    known = max((m.version for m in migrations), default=0)
    if have > known:
        raise StoreError(
            f"{con.path} has schema version {have}, newer than this synthgate knows ({known})",
            hint="Upgrade synthgate, or pass --db with another file.",
        )
    # Each missing number, not only those above the highest: numbers are reserved per branch, so
    # a file may hold 6 before 4 and 5 exist in this code base.
    done = {int(r[0]) for r in con.fetchall("SELECT version FROM schema_version")}
    applied = []
    for m in sorted(migrations, key=lambda m: m.version):
        if m.version in done:
            continue
        with con.transaction():
            for sql in m.statements:
                con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [m.version, m.name, utcnow()])
        applied.append(m.version)
    return applied
