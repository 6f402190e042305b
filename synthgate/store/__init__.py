"""The store: the only place in synthgate that issues SQL, over one DuckDB file.

>>> with Store.open(":memory:") as store:
...     with store.transaction():
...         ds = store.datasets.create(name="demo", source_path=None, source_sha256=None,
...                                    fmt="auto", options={}, chain_config={})
...     store.status_counts(ds)
{'pass': 0, 'fixed': 0, 'fail': 0}
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

from synthgate.store.bulk import BulkLoad
from synthgate.store.connection import DEFAULT_PATH, Connection
from synthgate.store.datasets import DatasetInfo, Datasets
from synthgate.store.generations import Generations
from synthgate.store.migrations import current_version, migrate
from synthgate.store.runs import RunInfo, Runs
from synthgate.store.samples import SampleRow, Samples
from synthgate.store.stats import CodeCount, Stats, TokenStats
from synthgate.store.verdicts import ReportRow, Verdicts
from synthgate.store.versions import VersionDiff, VersionInfo, VersionMember, Versions


class Store:
    """Datasets, samples, verdicts, runs and versions in one DuckDB file. Open with `Store.open(path)`."""

    def __init__(self, con: Connection) -> None:
        self._con = con
        self.path = con.path
        self.datasets = Datasets(con)
        self.samples = Samples(con, self.datasets)
        self.verdicts = Verdicts(con, self.datasets)
        self.runs = Runs(con)
        self.generations = Generations(con, self.runs, self.datasets)
        self.versions = Versions(con, self.datasets, self.verdicts)
        self.stats = Stats(con, self.datasets)

    @classmethod
    def open(cls, path: str | Path = DEFAULT_PATH) -> Store:
        """Open the store at `path`, creating and migrating it as needed.

        Raises StoreBusy when another process holds the file, StoreError when it is not a DuckDB
        database (or is corrupt, or has a newer schema).
        """
        con = Connection.open(path)
        try:
            migrate(con)
        except BaseException:
            con.close()
            raise
        return cls(con)

    @property
    def schema_version(self) -> int:
        """The highest schema migration applied to this file."""
        return current_version(self._con)

    def close(self) -> None:
        """Release the file (and its lock)."""
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """BEGIN ... COMMIT; any exception (KeyboardInterrupt too) rolls back and re-raises."""
        return self._con.transaction()

    def bulk(self, dataset_id: str) -> BulkLoad:
        """Stage a dataset's records and verdicts on disk and load them at once (see store.bulk):
        the way to write a large set inside one transaction without holding it in memory."""
        self.datasets.require(dataset_id)
        return BulkLoad(self._con, dataset_id)

    def report_rows(self, dataset_id: str) -> Iterator[ReportRow]:
        """Per-record report rows in index order; status derived from verdicts in SQL."""
        return self.verdicts.report_rows(dataset_id)

    def status_counts(self, dataset_id: str) -> dict[str, int]:
        """Records per status (pass / fixed / fail), each key present."""
        return self.verdicts.status_counts(dataset_id)

    def code_counts(self, dataset_id: str) -> dict[str, int]:
        """code -> number of records carrying it."""
        return self.verdicts.code_counts(dataset_id)


__all__ = [
    "BulkLoad",
    "CodeCount",
    "DatasetInfo",
    "ReportRow",
    "RunInfo",
    "SampleRow",
    "Store",
    "TokenStats",
    "VersionDiff",
    "VersionInfo",
    "VersionMember",
]
