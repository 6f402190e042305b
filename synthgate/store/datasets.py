"""The `datasets` and `set_findings` tables: one row per audited dataset, its set-level findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from synthgate.schemas.verdict import SetFinding
from synthgate.store._common import as_utc, dumps, loads, new_id, reject_secrets, utcnow
from synthgate.store.connection import Connection
from synthgate.validators.secrets import mask_secrets, mask_strings

LIST_COMMAND = "synthgate datasets list"

_COLUMNS = (
    "id, name, source_path, source_sha256, fmt, options, chain_config, summary, created_at, finished_at"
)


@dataclass(frozen=True)
class DatasetInfo:
    """One stored dataset; `summary` and `finished_at` stay None until the audit finished."""

    id: str
    name: str
    source_path: str | None
    source_sha256: str | None
    fmt: str | None
    options: dict[str, Any]
    chain_config: dict[str, Any]
    summary: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


class Datasets:
    """Create, finish and read datasets and their set-level findings."""

    def __init__(self, con: Connection) -> None:
        self._con = con

    def create(
        self,
        *,
        name: str,
        source_path: str | None,
        source_sha256: str | None,
        fmt: str | None,
        options: dict[str, Any],
        chain_config: dict[str, Any],
    ) -> str:
        """Insert a new dataset and return its id (`ds_` + 12 hex).

        Raises ValueError when options or chain_config carry a credential (see reject_secrets).
        """
        reject_secrets(options, "options")
        reject_secrets(chain_config, "chain_config")
        dataset_id = new_id("ds_")
        while self._con.fetchone("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]):
            dataset_id = new_id("ds_")
        self._con.execute(
            "INSERT INTO datasets (id, name, source_path, source_sha256, fmt, options, chain_config, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                dataset_id,
                name,
                source_path,
                source_sha256,
                fmt,
                # A --system-prompt or a configured leak text may quote a secret: masked like records.
                dumps(mask_strings(options)),
                dumps(mask_strings(chain_config)),
                utcnow(),
            ],
        )
        return dataset_id

    def finish(self, dataset_id: str, summary: dict[str, Any]) -> None:
        """Record the audit's summary (record count, status counts ...) and when it finished."""
        row = self._con.fetchone(
            "UPDATE datasets SET summary = ?, finished_at = ? WHERE id = ?",
            [dumps(mask_strings(summary)), utcnow(), dataset_id],  # openings and labels quote records
        )
        if not row or row[0] == 0:
            self.require(dataset_id)

    def get(self, dataset_id: str) -> DatasetInfo:
        """The dataset with this id; NotFound when absent."""
        row = self._con.fetchone(f"SELECT {_COLUMNS} FROM datasets WHERE id = ?", [dataset_id])
        if row is None:
            self.require(dataset_id)
        assert row is not None
        return _info(row)

    def list(self) -> list[DatasetInfo]:
        """All datasets, newest first."""
        rows = self._con.fetchall(f"SELECT {_COLUMNS} FROM datasets ORDER BY created_at DESC, seq DESC")
        return [_info(r) for r in rows]

    def add_findings(self, dataset_id: str, findings: list[SetFinding]) -> None:
        """Append set-level findings, kept in the order given."""
        self.require(dataset_id)
        if not findings:
            return
        row = self._con.fetchone(
            "SELECT coalesce(max(seq) + 1, 0) FROM set_findings WHERE dataset_id = ?", [dataset_id]
        )
        start = int(row[0]) if row else 0
        table = pa.table(
            {
                "dataset_id": pa.array([dataset_id] * len(findings), pa.string()),
                "seq": pa.array(range(start, start + len(findings)), pa.int64()),
                "code": pa.array([f.code for f in findings], pa.string()),
                "severity": pa.array([f.severity for f in findings], pa.string()),
                "message": pa.array([mask_secrets(f.message) for f in findings], pa.string()),
                "count": pa.array([f.count for f in findings], pa.int64()),
                "share": pa.array([f.share for f in findings], pa.float64()),
                "details": pa.array([dumps(mask_strings(f.details)) for f in findings], pa.string()),
            }
        )
        self._con.insert_arrow("set_findings", table)

    def findings(self, dataset_id: str) -> list[SetFinding]:
        """The dataset's set-level findings in the order they were added."""
        self.require(dataset_id)
        rows = self._con.fetchall(
            "SELECT code, severity, message, count, share, details FROM set_findings "
            "WHERE dataset_id = ? ORDER BY seq",
            [dataset_id],
        )
        return [
            SetFinding(code=c, severity=sev, message=m, count=n, share=sh, details=loads(d) or {})
            for c, sev, m, n, sh, d in rows
        ]

    def require(self, dataset_id: str) -> None:
        """Raise NotFound (naming how to list ids) unless the dataset exists."""
        self._con.require("datasets", "dataset", dataset_id, LIST_COMMAND)


def _info(row: tuple) -> DatasetInfo:
    ident, name, path, sha, fmt, options, chain, summary, created, finished = row
    return DatasetInfo(
        id=ident,
        name=name,
        source_path=path,
        source_sha256=sha,
        fmt=fmt,
        options=loads(options) or {},
        chain_config=loads(chain) or {},
        summary=loads(summary),
        created_at=as_utc(created),  # type: ignore[arg-type]
        finished_at=as_utc(finished),
    )
