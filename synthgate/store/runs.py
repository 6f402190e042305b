"""The `runs` table: generic records of long-running jobs (generation, training, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from synthgate.store.common import as_utc, dumps, loads, new_id, reject_secrets, utcnow
from synthgate.store.connection import Connection

LIST_COMMAND = "synthgate runs list"

_COLUMNS = "id, kind, status, params, summary, created_at, finished_at"


@dataclass(frozen=True)
class RunInfo:
    """One run; `status` is `running` until finish() records the outcome."""

    id: str
    kind: str
    status: str
    params: dict[str, Any]
    summary: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


class Runs:
    """Create, finish and read runs."""

    def __init__(self, con: Connection) -> None:
        self._con = con

    def create(self, kind: str, params: dict[str, Any]) -> str:
        """Insert a running run and return its id (`run_` + 12 hex); ValueError on credentials."""
        reject_secrets(params, "params")
        run_id = new_id("run_")
        while self._con.fetchone("SELECT 1 FROM runs WHERE id = ?", [run_id]):
            run_id = new_id("run_")
        self._con.execute(
            "INSERT INTO runs (id, kind, status, params, created_at) VALUES (?, ?, 'running', ?, ?)",
            [run_id, kind, dumps(params), utcnow()],
        )
        return run_id

    def finish(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        """Record how the run ended (`ok`, `failed`, `interrupted` ...) and its summary."""
        row = self._con.fetchone(
            "UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE id = ?",
            [status, dumps(summary), utcnow(), run_id],
        )
        if not row or row[0] == 0:
            self.require(run_id)

    def get(self, run_id: str) -> RunInfo:
        """The run with this id; NotFound when absent."""
        row = self._con.fetchone(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", [run_id])
        if row is None:
            self.require(run_id)
        assert row is not None
        return _info(row)

    def list(self, kind: str | None = None) -> list[RunInfo]:
        """Runs, newest first; only those of `kind` when given."""
        where, params = ("WHERE kind = ?", [kind]) if kind is not None else ("", [])
        rows = self._con.fetchall(
            f"SELECT {_COLUMNS} FROM runs {where} ORDER BY created_at DESC, seq DESC", params
        )
        return [_info(r) for r in rows]

    def require(self, run_id: str) -> None:
        """Raise NotFound (naming how to list ids) unless the run exists."""
        self._con.require("runs", "run", run_id, LIST_COMMAND)


def _info(row: tuple) -> RunInfo:
    ident, kind, status, params, summary, created, finished = row
    return RunInfo(
        id=ident,
        kind=kind,
        status=status,
        params=loads(params) or {},
        summary=loads(summary),
        created_at=as_utc(created),  # type: ignore[arg-type]
        finished_at=as_utc(finished),
    )
