"""Aggregates over one audited dataset, computed in SQL: what the HTML report draws.

Every query returns counts or a bounded number of rows (examples are capped per code), so a report's
cost and size do not grow with the number of records.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthgate.schemas.verdict import Verdict
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.verdicts import verdict_from_row

TOKEN_PARTS = ("prompt", "completion", "total")
_TOKEN_SQL = {
    "prompt": "prompt_tokens",
    "completion": "completion_tokens",
    "total": "prompt_tokens + completion_tokens",
}


@dataclass(frozen=True)
class CodeCount:
    """Records carrying `code` with this status and severity (one code may appear as block and warn)."""

    validator: str
    code: str
    status: str
    severity: str
    records: int


@dataclass(frozen=True)
class TokenStats:
    """Token counts of the records the length check measured; `over_budget`: prompt + completion
    tokens above `max_length` (before any repair)."""

    counted: int
    max_tokens: dict[str, int]
    over_budget: int


class Stats:
    """Read-only aggregates for reports."""

    def __init__(self, con: Connection, datasets: Datasets) -> None:
        self._con = con
        self._datasets = datasets

    def code_counts(self, dataset_id: str) -> list[CodeCount]:
        """Records per (validator, code, status, severity), most frequent first."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT validator, code, status, severity, count(DISTINCT idx) AS n FROM verdicts "
            "WHERE dataset_id = ? GROUP BY ALL ORDER BY n DESC, code, status, severity",
            [dataset_id],
        )
        return [CodeCount(v, c, st, sev, int(n)) for v, c, st, sev, n in rows]

    def examples(self, dataset_id: str, per_code: int = 5) -> list[tuple[int, Verdict]]:
        """Up to `per_code` verdicts per code, worst first: blocking ones, then by score, then index."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT idx, validator, status, severity, code, message, span_field, span_start, span_end, "
            "score FROM (SELECT *, row_number() OVER (PARTITION BY code ORDER BY "
            "(status = 'fail' AND severity = 'block') DESC, score DESC NULLS LAST, idx, seq) AS rank "
            "FROM verdicts WHERE dataset_id = ?) WHERE rank <= ? ORDER BY code, rank",
            [dataset_id, int(per_code)],
        )
        return [(int(r[0]), verdict_from_row(r[1:])) for r in rows]

    def tokens(self, dataset_id: str, max_length: int | None) -> TokenStats:
        """How many records carry token counts, the largest of each part, and how many exceed the budget."""
        self._datasets.require(dataset_id)
        row = self._con.fetchone(
            "SELECT count(prompt_tokens), coalesce(max(prompt_tokens), 0), "
            "coalesce(max(completion_tokens), 0), coalesce(max(prompt_tokens + completion_tokens), 0), "
            "count(*) FILTER (WHERE prompt_tokens + completion_tokens > ?) "
            "FROM samples WHERE dataset_id = ?",
            [max_length if max_length is not None else 2**62, dataset_id],
        )
        assert row is not None
        counted, p, c, t, over = (int(x) for x in row)
        return TokenStats(counted, {"prompt": p, "completion": c, "total": t}, over)

    def token_histogram(self, dataset_id: str, part: str, bins: int, width: int) -> list[int]:
        """Records per bin of `width` tokens for `part` (prompt, completion or total); the last bin
        also holds everything beyond it."""
        if part not in _TOKEN_SQL:
            raise ValueError(f"part must be one of {', '.join(TOKEN_PARTS)}, not {part!r}")
        if bins < 1 or width < 1:
            raise ValueError("bins and width must be positive")
        rows = self._con.fetchall(
            f"SELECT least(({_TOKEN_SQL[part]}) // ?, ?) AS b, count(*) FROM samples "
            f"WHERE dataset_id = ? AND prompt_tokens IS NOT NULL GROUP BY b",
            [width, bins - 1, dataset_id],
        )
        counts = [0] * bins
        for b, n in rows:
            counts[int(b)] = int(n)
        return counts

    def persona_task(self, dataset_id: str) -> list[tuple[str, str, int]]:
        """(persona, task type, records) for records that name a persona; `(none)` for no task type."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT metadata->>'persona' AS persona, coalesce(task_type, '(none)') AS task, count(*) AS n "
            "FROM samples WHERE dataset_id = ? AND (metadata->>'persona') IS NOT NULL "
            "GROUP BY ALL ORDER BY n DESC, persona, task",
            [dataset_id],
        )
        return [(p, t, int(n)) for p, t, n in rows]

    def critic_scores(self, dataset_id: str) -> list[tuple[float, int]]:
        """(mean critic score rounded to the nearest half, records) for records the critic scored."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT round(mean * 2) / 2 AS bucket, count(*) FROM ("
            "  SELECT (SELECT avg((metadata->'critic_scores'->>k)::DOUBLE) "
            "          FROM unnest(json_keys(metadata->'critic_scores')) AS t(k)) AS mean "
            "  FROM samples WHERE dataset_id = ? AND (metadata->'critic_scores') IS NOT NULL"
            ") WHERE mean IS NOT NULL GROUP BY bucket ORDER BY bucket",
            [dataset_id],
        )
        return [(float(b), int(n)) for b, n in rows]
