"""The `verdicts` table, and the per-record status derived from it in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from synthgate.schemas.verdict import DEFAULT_STATUS, STATUS_RULES, Ref, Span, Verdict
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.validators.secrets import mask_secrets


def record_status_sql(alias: str = "v") -> str:
    """`schemas.verdict.STATUS_RULES` as an SQL aggregate over one record's verdict rows `alias`.

    A record without verdicts (a LEFT JOIN's NULL row) gets DEFAULT_STATUS.

    >>> record_status_sql().startswith("CASE WHEN bool_or(v.status = 'fail' AND v.severity = 'block')")
    True
    """
    whens = []
    for status, verdict_status, severity in STATUS_RULES:
        match = f"{alias}.status = '{verdict_status}'"
        if severity is not None:
            match += f" AND {alias}.severity = '{severity}'"
        whens.append(f"WHEN bool_or({match}) THEN '{status}'")
    return f"CASE {' '.join(whens)} ELSE '{DEFAULT_STATUS}' END"


def records_sql(columns: str = "") -> str:
    """One row per record of a dataset (parameter: the dataset id), in no particular order.

    Columns: idx, sample_id, status (derived from the verdicts), codes (distinct, sorted),
    fail_codes (codes of `fail` verdicts, any severity), then `columns` (more expressions over the
    samples row `s`). The one per-record query: reports, counts and version members all read it.
    """
    return f"""
    SELECT s.idx AS idx, s.sample_id AS sample_id, {record_status_sql("v")} AS status,
           coalesce(list_sort(list_distinct(list(v.code))), []) AS codes,
           coalesce(list_sort(list_distinct(list(v.code) FILTER (WHERE v.status = 'fail'))), [])
               AS fail_codes
           {columns}
    FROM samples s
    LEFT JOIN verdicts v ON v.dataset_id = s.dataset_id AND v.idx = s.idx
    WHERE s.dataset_id = ?
    GROUP BY ALL
"""


_PER_RECORD = records_sql()
_REPORT_ROWS = records_sql(", s.shard AS shard, s.line AS line")

STATUSES = ("pass", "fixed", "fail")


@dataclass(frozen=True)
class ReportRow:
    """One line of the per-record report: index, sample id, derived status, distinct codes, and the
    shard (number) and line the record was read from, when known."""

    index: int
    id: str | None
    status: str
    codes: list[str]
    shard: int | None = None
    line: int | None = None


class Verdicts:
    """Bulk-insert and query per-record verdicts."""

    def __init__(self, con: Connection, datasets: Datasets) -> None:
        self._con = con
        self._datasets = datasets

    def add_batch(self, dataset_id: str, rows: list[tuple[int, Verdict]]) -> None:
        """Append (record index, verdict) pairs in one vectorised insert, keeping their order."""
        self._datasets.require(dataset_id)
        if not rows:
            return
        row = self._con.fetchone(
            "SELECT coalesce(max(seq) + 1, 0) FROM verdicts WHERE dataset_id = ?", [dataset_id]
        )
        start = int(row[0]) if row else 0
        self._con.insert_arrow("verdicts", verdicts_arrow(dataset_id, rows, start))

    def for_dataset(
        self, dataset_id: str, code_prefix: str | None = None, limit: int | None = None
    ) -> list[tuple[int, Verdict]]:
        """(record index, verdict) pairs in index order, then the order they were added.

        `code_prefix` keeps codes starting with it (`"leak."`); `limit` caps the number returned.
        """
        self._datasets.require(dataset_id)
        sql = f"SELECT idx, {VERDICT_COLUMNS} FROM verdicts WHERE dataset_id = ?"
        params: list = [dataset_id]
        if code_prefix:
            # starts_with, not LIKE: codes contain `_`, a LIKE wildcard.
            sql += " AND starts_with(code, ?)"
            params.append(code_prefix)
        sql += " ORDER BY idx, seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [(r[0], verdict_from_row(r[1:])) for r in self._con.fetchall(sql, params)]

    def report_rows(self, dataset_id: str) -> Iterator[ReportRow]:
        """One row per record in index order, status derived from its verdicts, streamed."""
        self._datasets.require(dataset_id)
        sql = _REPORT_ROWS + " ORDER BY idx"
        for idx, sample_id, status, codes, _, shard, line in self._con.stream(sql, [dataset_id]):
            yield ReportRow(idx, sample_id, status, list(codes), shard, line)

    def status_counts(self, dataset_id: str) -> dict[str, int]:
        """Records per derived status; every status is present, zero when unused."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            f"SELECT status, count(*) FROM ({_PER_RECORD}) GROUP BY status", [dataset_id]
        )
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: int(n) for status, n in rows})
        return counts

    def code_counts(self, dataset_id: str) -> dict[str, int]:
        """code -> number of records carrying it, most frequent first."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT code, count(DISTINCT idx) AS n FROM verdicts WHERE dataset_id = ? "
            "GROUP BY code ORDER BY n DESC, code",
            [dataset_id],
        )
        return {code: int(n) for code, n in rows}


def verdicts_arrow(dataset_id: str, rows: list[tuple[int, Verdict]], start: int) -> pa.Table:
    """Rows of the `verdicts` table for (record index, verdict) pairs, `seq` counting from `start`."""
    spans = [v.span for _, v in rows]
    return pa.table(
        {
            "dataset_id": pa.array([dataset_id] * len(rows), pa.string()),
            "idx": pa.array([i for i, _ in rows], pa.int64()),
            "seq": pa.array(range(start, start + len(rows)), pa.int64()),
            "validator": pa.array([v.validator for _, v in rows], pa.string()),
            "status": pa.array([v.status for _, v in rows], pa.string()),
            "severity": pa.array([v.severity for _, v in rows], pa.string()),
            "code": pa.array([v.code for _, v in rows], pa.string()),
            # Messages quote record text (a leaked sentence, a duplicate's opening): masked.
            "message": pa.array([mask_secrets(v.message) for _, v in rows], pa.string()),
            "span_field": pa.array([s.field if s else None for s in spans], pa.string()),
            "span_start": pa.array([s.start if s else None for s in spans], pa.int64()),
            "span_end": pa.array([s.end if s else None for s in spans], pa.int64()),
            "score": pa.array([v.score for _, v in rows], pa.float64()),
            "ref_source": pa.array([v.ref.source if v.ref else None for _, v in rows], pa.string()),
            "ref_index": pa.array([v.ref.index if v.ref else None for _, v in rows], pa.int64()),
        }
    )


# The columns `verdict_from_row` reads, in its order.
VERDICT_COLUMNS = (
    "validator, status, severity, code, message, span_field, span_start, span_end, score, "
    "ref_source, ref_index"
)


def verdict_from_row(row: tuple) -> Verdict:
    """A Verdict from a row of VERDICT_COLUMNS."""
    validator, status, severity, code, message, span_field, span_start, span_end, score = row[:9]
    ref_source, ref_index = row[9:]
    span = None
    if span_field is not None:
        span = Span(field=span_field, start=span_start, end=span_end)
    ref = Ref(source=ref_source, index=ref_index) if ref_source is not None else None
    return Verdict(
        validator=validator,
        status=status,
        severity=severity,
        code=code,
        message=message,
        span=span,
        score=score,
        ref=ref,
    )
