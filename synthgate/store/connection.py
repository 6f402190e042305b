"""The DuckDB connection: opening (with lock and corruption errors mapped), transactions, bulk I/O."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from synthgate.errors import ConfigError, NotFound, StoreBusy, StoreError

DEFAULT_PATH = Path("synthgate.duckdb")
FETCH_ROWS = 2_000

# Memory: DuckDB's own default limit is 80% of RAM, and it counts only its buffer-managed memory.
# Measured (benchmarks/audit_memory.py, docs/incoming/mem.md): an audit that appended its rows
# batch by batch inside one open transaction grew ~6 KB RSS per 2.5 KB record whatever the limit,
# because transaction-local appends are held in memory, partly outside the limit, until COMMIT.
# So an audit stages its rows in Parquet files (store.bulk) and loads them with one INSERT at the
# end, where DuckDB writes full row groups straight to the file; the limit then bounds the queries
# (the load, the per-record status aggregate, version create's copy), which spill to TEMP_DIR.
MEMORY_LIMIT_ENV = "SYNTHGATE_DB_MEMORY_LIMIT"
TEMP_DIR_ENV = "SYNTHGATE_DB_TEMP_DIR"
MEMORY_LIMIT_SHARE = 0.25  # of physical RAM, by default ...
# ... but at most 1 GiB: the queries spill beyond it, they do not fail. Measured loading 250k staged
# rows (1.1 GB of text) in one INSERT: peak RSS 0.65 GB at 512MB, 1.1 GB at 1GB, 1.4 GB at 2GB,
# about the same wall time.
MEMORY_LIMIT_CAP = 1 << 30
_settings: dict[str, str | None] = {"memory_limit": None, "temp_directory": None}


def configure(memory_limit: str | None = None, temp_directory: str | Path | None = None) -> None:
    """Set the memory limit and spill folder of stores opened from now on in this process (the CLI's
    --db-memory-limit / --db-temp-dir); None keeps the environment's or the default."""
    _settings["memory_limit"] = memory_limit
    _settings["temp_directory"] = str(temp_directory) if temp_directory is not None else None


def memory_limit() -> str:
    """The DuckDB memory limit a store opens with: configure(), else $SYNTHGATE_DB_MEMORY_LIMIT (DuckDB
    syntax: `2GB`, `512MB`, `25%`), else a quarter of physical RAM capped at 1 GiB.

    >>> configure("1GB"); memory_limit()
    '1GB'
    >>> configure(); memory_limit().endswith("MiB")
    True
    """
    chosen = _settings["memory_limit"] or os.environ.get(MEMORY_LIMIT_ENV)
    if chosen:
        return chosen
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: DuckDB's own share of RAM, capped
        ram = 4 * MEMORY_LIMIT_CAP
    return f"{min(int(ram * MEMORY_LIMIT_SHARE), MEMORY_LIMIT_CAP) >> 20}MiB"


def temp_directory(path: str) -> str:
    """Where a store spills what exceeds its memory limit (and where audits stage their rows):
    configure(), else $SYNTHGATE_DB_TEMP_DIR, else `<store>.tmp` beside the file (DuckDB's own
    choice, made explicit), or a folder in the system temp dir for an in-memory store."""
    chosen = _settings["temp_directory"] or os.environ.get(TEMP_DIR_ENV)
    if chosen:
        return chosen
    if path == ":memory:":
        return str(Path(tempfile.gettempdir()) / f"synthgate-duckdb-{os.getpid()}")
    return f"{path}.tmp"


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
        limit, spill = memory_limit(), temp_directory(name)
        try:
            con.execute("SET memory_limit = ?", [limit]).fetchall()
            con.execute("SET temp_directory = ?", [spill]).fetchall()
        except duckdb.Error as err:
            con.close()
            raise ConfigError(
                f"cannot set the store's memory limit {limit!r} / spill folder {spill!r}: {err}",
                hint=f"Pass --db-memory-limit like 2GB, 512MB or 25% (or set ${MEMORY_LIMIT_ENV}).",
            ) from None
        return cls(con, name)

    def close(self) -> None:
        self._con.close()

    @property
    def temp_directory(self) -> Path:
        """The folder this store spills to (DuckDB creates it on first use)."""
        row = self.fetchone("SELECT current_setting('temp_directory')")
        return Path(row[0]) if row and row[0] else Path(tempfile.gettempdir())

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
