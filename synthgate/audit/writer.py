"""`DatasetWriter`: store a dataset's records and verdicts while the set-level checker observes
them, then add its verdicts and findings and finish the dataset.

What an audit of a file and a finished generation run share, so a set is checked and stored the
same way whatever made it. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.verdict import SetFinding, Verdict
from synthgate.store import SampleRow, Store
from synthgate.validators.chain import apply_severity


@dataclass(frozen=True)
class DatasetCounts:
    """A finished dataset: records, records per status, records per code, set findings."""

    dataset_id: str
    records: int
    status_counts: dict[str, int]
    code_counts: dict[str, int]
    set_findings: list[SetFinding]


class DatasetWriter:
    """Writes one dataset in batches; `finish` runs the set-level checks and records the summary.

    Rows are staged on disk (store.bulk) and reach the store in `finish`, so memory stays flat in
    the set's size; what was staged is removed by `finish`, or when an abandoned writer is collected.
    """

    def __init__(self, store: Store, dataset_id: str, chain: ChainConfig) -> None:
        self._store = store
        self._dataset_id = dataset_id
        self._chain = chain
        self._checker = None
        if chain.set_checks:
            # Imported here: numpy and rapidfuzz load only when a set is checked.
            from synthgate.validators.sets import SetChecker

            self._checker = SetChecker(chain.sets)
        self._bulk = store.bulk(dataset_id)
        self.records = 0

    def add(
        self, rows: list[SampleRow], verdicts: list[tuple[int, Verdict]], *, masked: bool = False
    ) -> None:
        """Store a batch of records (in index order) and their per-record verdicts; `masked`: the
        samples were masked when first stored (see `Samples.add_batch`)."""
        if self._checker is not None:
            for row in rows:
                if row.sample is not None:
                    self._checker.observe(row.index, row.sample)
        self._bulk.add_samples(rows, masked=masked)
        self._bulk.add_verdicts(verdicts)
        if self._checker is not None:  # duplicates found so far go to disk, not held to the end
            overrides = self._chain.severity_overrides
            found = self._checker.take_verdicts()
            self._bulk.add_verdicts([(i, apply_severity(v, overrides)) for i, v in found])
        self.records += len(rows)

    def add_verdicts(self, verdicts: list[tuple[int, Verdict]]) -> None:
        """Store verdicts on records already added (checks that needed the whole set)."""
        self._bulk.add_verdicts(verdicts)

    def finish(
        self, findings: list[SetFinding] | None = None, summary: dict[str, Any] | None = None
    ) -> DatasetCounts:
        """Add the set checker's duplicate verdicts and findings (then `findings`), and finish the
        dataset with a summary: records, diversity, `summary`'s sections, status and code counts."""
        store, dataset_id = self._store, self._dataset_id
        found: list[SetFinding] = []
        out: dict[str, Any] = {"records": self.records}
        if self._checker is not None:
            per_record, found = self._checker.finish()
            overrides = self._chain.severity_overrides
            dup_rows = [(i, apply_severity(v, overrides)) for i, vs in sorted(per_record.items()) for v in vs]
            self._bulk.add_verdicts(dup_rows)
            out["diversity"] = self._checker.stats()
        with self._bulk:
            self._bulk.load()
        found += findings or []
        out.update(summary or {})
        store.datasets.add_findings(dataset_id, found)
        status_counts = store.status_counts(dataset_id)
        code_counts = store.code_counts(dataset_id)
        out.update(status_counts=status_counts, codes=code_counts)
        store.datasets.finish(dataset_id, summary=out)
        return DatasetCounts(dataset_id, self.records, status_counts, code_counts, found)
