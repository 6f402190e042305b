"""A finished generation run's kept samples, written as a dataset like an audited file's.

Written once, when the run finishes, in the transaction that marks it finished:
- the kept set is only final then (critic.keep_top re-selects among all candidates at the end, and
  a resumed run may still add jobs), and set-level findings are about the final set;
- the set checker must see the whole set in one pass, in job order, so its duplicate verdicts
  (which record is the later copy) do not depend on when the process was killed;
- `gen_jobs` stays the per-job journal a resume reads, so a kill loses no finished job; a kill
  while the dataset is written rolls it back with the run's finish, and the rerun (which finds
  every job done) writes it.

Each sample's `idx` is its job index, so `gen_jobs`/`gen_requests` (persona, task, requests) stay
one join away.
"""

from __future__ import annotations

from typing import Any

from synthgate.audit.writer import DatasetWriter
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import SampleRow, Store

# The `fmt` of a generated dataset (an audited one has its file's format).
GENERATED_FORMAT = "generated"
_BATCH = 512


def write_run_dataset(store: Store, run_id: str, chain: ChainConfig, run_counts: dict[str, Any]) -> str:
    """The id of the run's dataset, written now unless one with the same kept samples exists.

    `chain` is the config the samples were checked with; `run_counts` (jobs kept, rejected, failed
    and why) go into the dataset's summary under `run`.
    """
    kept = store.generations.kept_ids(run_id)
    existing = store.datasets.for_run(run_id)
    if existing is not None and _members(store, existing) == kept:
        return existing  # a rerun of a finished run: same samples, same dataset
    run = store.runs.get(run_id)
    with store.transaction():
        dataset_id = store.datasets.create(
            name=str(run.params.get("name") or run_id),
            source_path=None,
            source_sha256=None,
            fmt=GENERATED_FORMAT,
            options={"run_id": run_id},
            chain_config=chain.model_dump(mode="json"),
            run_id=run_id,
        )
        writer = DatasetWriter(store, dataset_id, chain)
        last = -1
        while page := store.generations.kept(run_id, after=last, limit=_BATCH):
            rows = [
                SampleRow(index=job, input_id=None, sample=s, original=None, raw=None, tokens=tokens)
                for job, s, _, tokens in page
            ]
            # gen_jobs holds the samples masked already (store/generations.py).
            writer.add(rows, [(job, v) for job, _, found, _ in page for v in found], masked=True)
            last = page[-1][0]
        writer.finish(summary={"run": {"id": run_id, **run_counts}})
    return dataset_id


def _members(store: Store, dataset_id: str) -> list[tuple[int, str]]:
    return [(r.index, r.sample.id) for r in store.samples.iter(dataset_id) if r.sample is not None]
