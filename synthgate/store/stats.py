"""Aggregates over one audited dataset, computed in SQL: what the HTML report draws.

Every query returns counts or a bounded number of rows (examples are capped per code), so a report's
cost and size do not grow with the number of records.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthgate.schemas.verdict import Verdict
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.verdicts import VERDICT_COLUMNS, verdict_from_row
from synthgate.store.version_sources import PROMPT_KEY_SQL
from synthgate.store.versions import LIST_COMMAND as VERSIONS_LIST_COMMAND

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
class RefHits:
    """Verdicts pointing into one other file (an eval set, a validation split): records hit per code,
    records hit by any code, and the distinct records of that file they hit."""

    source: str
    records: int
    items: int
    by_code: dict[str, int]


@dataclass(frozen=True)
class RecordDiff:
    """Records of `b` against `a` by sample id: `changed` pairs a removed and an added record with the
    same prompt (system prompt and turns), as `Versions.diff` does; `same` are in both."""

    added: int
    removed: int
    changed: int
    same: int


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
            f"SELECT idx, {VERDICT_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY code ORDER BY "
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

    def ref_hits(self, dataset_id: str) -> list[RefHits]:
        """Per other file the verdicts point into (contamination's eval files), by file name."""
        self._datasets.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT ref_source, code, count(DISTINCT idx), count(DISTINCT ref_index) FROM verdicts "
            "WHERE dataset_id = ? AND ref_source IS NOT NULL "
            "GROUP BY GROUPING SETS ((ref_source, code), (ref_source)) ORDER BY ref_source, code NULLS FIRST",
            [dataset_id],
        )
        out: dict[str, RefHits] = {}
        for source, code, records, items in rows:
            if code is None:
                out[source] = RefHits(source, int(records), int(items), {})
            else:
                out[source].by_code[code] = int(records)
        return list(out.values())

    def record_diff(self, a: str, b: str) -> RecordDiff:
        """Added / removed / changed / same records from `a` to `b`, each a dataset id (its readable
        records) or a version id (its members)."""
        sa, params_a = self._record_keys(a)
        sb, params_b = self._record_keys(b)
        row = self._con.fetchone(
            f"""WITH a AS (SELECT DISTINCT sample_id, prompt_key FROM ({sa})),
                     b AS (SELECT DISTINCT sample_id, prompt_key FROM ({sb})),
                     oa AS (SELECT * FROM a WHERE sample_id NOT IN (SELECT sample_id FROM b)),
                     ob AS (SELECT * FROM b WHERE sample_id NOT IN (SELECT sample_id FROM a)),
                     ka AS (SELECT prompt_key, count(*) AS n FROM oa GROUP BY prompt_key),
                     kb AS (SELECT prompt_key, count(*) AS n FROM ob GROUP BY prompt_key)
                SELECT (SELECT count(*) FROM oa), (SELECT count(*) FROM ob),
                       (SELECT coalesce(sum(least(ka.n, kb.n)), 0) FROM ka JOIN kb USING (prompt_key)),
                       (SELECT count(*) FROM a WHERE sample_id IN (SELECT sample_id FROM b))""",
            [*params_a, *params_b],
        )
        assert row is not None
        only_a, only_b, changed, same = (int(x) for x in row)
        return RecordDiff(added=only_b - changed, removed=only_a - changed, changed=changed, same=same)

    def _record_keys(self, set_id: str) -> tuple[str, list[str]]:
        """SQL giving (sample_id, prompt_key) of a dataset's readable records or a version's members."""
        if set_id.startswith("ds_"):
            self._datasets.require(set_id)
            return (
                f"SELECT s.sample_id AS sample_id, {PROMPT_KEY_SQL} AS prompt_key FROM samples s "
                "WHERE s.dataset_id = ? AND s.sample_id IS NOT NULL",
                [set_id],
            )
        self._con.require("versions", "version", set_id, VERSIONS_LIST_COMMAND)
        return "SELECT sample_id, prompt_key FROM version_samples WHERE version_id = ?", [set_id]

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
