"""`BulkLoad`: a dataset's records and verdicts staged in Parquet files, loaded in one INSERT each.

Why: rows appended batch by batch inside one open transaction stay in DuckDB's transaction-local
storage until COMMIT, and measured RSS grew ~6 KB per 2.5 KB record (1M records: ~6 GB) whatever
the memory limit (docs/incoming/mem.md). Staged rows cost no memory; the final
`INSERT ... SELECT FROM read_parquet` streams them, writing full row groups straight to the file
under the store's memory limit. The caller's transaction still holds everything that reaches the
store: an interrupted audit leaves the store as it was, and the staging folder is removed.

The staging folder lives in the store's spill folder (`--db-temp-dir`, by default `<store>.tmp`):
the set's rows once more on disk, compressed, until the load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from contextlib import suppress
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from synthgate.schemas.verdict import Verdict
from synthgate.store.connection import Connection
from synthgate.store.samples import SampleRow, samples_arrow
from synthgate.store.verdicts import verdicts_arrow

ROW_GROUP_ROWS = 4_096  # rows buffered per Parquet row group: a few MB, and few groups to read
_PREFIX = "synthgate-stage-"


class BulkLoad:
    """Stage a dataset's rows with `add_samples` / `add_verdicts`, then `load()` them all.

    Use inside the caller's transaction. Leaving it as a context manager (or `close`) removes the
    staged files whether or not `load` ran; so does collecting an abandoned one, and a later
    BulkLoad removes what a killed process left. Verdicts keep the order they were added in.
    """

    def __init__(self, con: Connection, dataset_id: str) -> None:
        self._con = con
        self._dataset_id = dataset_id
        spill = con.temp_directory
        made = not spill.exists()  # then removed again when empty: no stray `<store>.tmp` folder
        spill.mkdir(parents=True, exist_ok=True)
        _remove_orphans(spill)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=spill))
        self._cleanup = weakref.finalize(self, _remove, self.folder, spill if made else None)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[pa.Table]] = {"samples": [], "verdicts": []}
        self._rows = {"samples": 0, "verdicts": 0}
        self._seq = 0

    def add_samples(self, rows: list[SampleRow], *, masked: bool = False) -> None:
        """Stage records; `masked`: already masked when first stored (see `Samples.add_batch`)."""
        if rows:
            self._stage("samples", samples_arrow(self._dataset_id, rows, masked))

    def add_verdicts(self, rows: list[tuple[int, Verdict]]) -> None:
        if rows:
            self._stage("verdicts", verdicts_arrow(self._dataset_id, rows, self._seq))
            self._seq += len(rows)

    def load(self) -> None:
        """INSERT every staged row into `samples` and `verdicts` (one statement per table)."""
        for table in ("samples", "verdicts"):
            self._write(table)
            writer = self._writers.pop(table, None)
            if writer is None:
                continue
            writer.close()
            cols = ", ".join(writer.schema.names)
            path = str(self.folder / f"{table}.parquet")
            self._con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM read_parquet(?)", [path])

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._cleanup()

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _stage(self, table: str, data: pa.Table) -> None:
        self._pending[table].append(data)
        self._rows[table] += data.num_rows
        if self._rows[table] >= ROW_GROUP_ROWS:
            self._write(table)

    def _write(self, table: str) -> None:
        pending = self._pending[table]
        if not pending:
            return
        data = pa.concat_tables(pending, promote_options="permissive")
        writer = self._writers.get(table)
        if writer is None:
            writer = self._writers[table] = pq.ParquetWriter(self.folder / f"{table}.parquet", data.schema)
        writer.write_table(data.cast(writer.schema), row_group_size=len(data))
        pending.clear()
        self._rows[table] = 0


def _remove(folder: Path, spill: Path | None) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    if spill is not None:
        with suppress(OSError):  # DuckDB spills there too now: leave it
            spill.rmdir()


def _remove_orphans(spill: Path) -> None:
    """Staging folders of processes that no longer run (killed mid-audit)."""
    for folder in spill.glob(f"{_PREFIX}*"):
        pid = folder.name[len(_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive, another user's
            continue
