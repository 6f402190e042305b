"""The DuckDB connection: opening (with lock and corruption errors mapped), transactions, bulk I/O."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from synthgate.errors import NotFound, StoreBusy, StoreError

DEFAULT_PATH = Path("synthgate.duckdb")
FETCH_ROWS = 2_000

_PID = re.compile(r"PID (\d+)")


class Connection:
    """One DuckDB connection to a store file, with nestable transactions.

    DuckDB lets one process hold a database file for writing; a second process gets StoreBusy.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self._con = con
        self.path = path
        self._depth = 0

    @classmethod
    def open(cls, path: str | Path = DEFAULT_PATH) -> Connection:
        """Open (creating when missing) the DuckDB file at `path`."""
        name = str(path)
        if name != ":memory:":
            file = Path(path)
            file.parent.mkdir(parents=True, exist_ok=True)
            if file.is_file() and file.stat().st_size == 0:
                # `touch synthgate.duckdb` or a fresh temp file: nothing to lose, start a store there.
                file.unlink()
        try:
            con = duckdb.connect(name)
        except duckdb.Error as err:
            raise _open_error(name, err) from None
        return cls(con, name)

    def close(self) -> None:
        self._con.close()

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT; ROLLBACK on any exception, KeyboardInterrupt included.

        Nested calls join the outer transaction, so library functions can open one of their own and
        still be part of a caller's larger unit of work.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            # The original error matters more; DuckDB discards the transaction either way.
            with suppress(duckdb.Error):
                self._con.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._con.execute("COMMIT")
        except duckdb.Error as err:
            raise StoreError(f"could not commit to {self.path}: {err}") from err

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(sql, params)
        except duckdb.Error as err:
            raise StoreError(f"{self.path}: {err}") from err

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple | None:
        """The first row of a query that yields at most a few rows."""
        # fetchall, not fetchone: DuckDB refuses new work on a connection with an unread result.
        rows = self.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """Append `data` (columns named like `table`'s) in one vectorised INSERT ... SELECT."""
        if data.num_rows == 0:
            return
        view = f"_synthgate_{table}_batch"
        cols = ", ".join(data.column_names)
        self._con.register(view, data)
        try:
            self.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
        finally:
            self._con.unregister(view)

    def prepare_arrow(self) -> None:
        """Pay now the one-off cost of this process's first `insert_arrow` (DuckDB imports pandas
        when it registers its first object: about a second), e.g. before a run's threads start."""
        view = "_synthgate_warm"
        self._con.register(view, pa.table({"x": pa.array([], pa.int64())}))
        self._con.unregister(view)

    def stream(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[tuple]:
        """Rows of `sql`, fetched FETCH_ROWS at a time so memory stays flat.

        Outside a transaction the query runs on its own cursor, so the caller may issue other queries
        while iterating. Inside one it must use the transaction's connection to see uncommitted rows,
        and DuckDB allows one open result per connection: finish (or close) the iterator before the
        next store call.
        """
        cur = self._con if self.in_transaction else self._con.cursor()
        result = None
        try:
            try:
                result = cur.execute(sql, params)
            except duckdb.Error as err:
                raise StoreError(f"{self.path}: {err}") from err
            while rows := result.fetchmany(FETCH_ROWS):
                yield from rows
        finally:
            if cur is not self._con:
                cur.close()
            elif result is not None:
                # A caller that stopped early must not leave the transaction's connection blocked.
                with suppress(duckdb.Error):
                    result.abort()

    def require(self, table: str, kind: str, ident: str, how_to_list: str) -> None:
        """Raise NotFound unless `table` has a row with this id."""
        if self.fetchone(f"SELECT 1 FROM {table} WHERE id = ?", [ident]) is None:
            raise NotFound(
                f"no {kind} {ident!r} in {self.path}; run `{how_to_list} --db {self.path}` to see {kind} ids",
                hint=f"Copy an id from `{how_to_list}`, or pass the --db the {kind} was stored in.",
            )


def _open_error(path: str, err: duckdb.Error) -> StoreError:
    text = str(err)
    if "lock" in text.lower():
        pid = _PID.search(text)
        holder = f" (PID {pid.group(1)})" if pid else ""
        return StoreBusy(f"the store {path} is in use by another process{holder}")
    if "not a valid DuckDB database" in text:
        return StoreError(
            f"{path} is not a DuckDB database, or it is corrupt",
            hint="Pass --db with a new file name, or move this file away if it is not yours.",
        )
    return StoreError(
        f"cannot open the store {path}: {text}",
        hint="Check the path and its permissions, or pass --db with a new file name.",
    )
