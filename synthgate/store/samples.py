"""The `samples` table: one row per input record, the repaired sample in columns.

The store never keeps a secret or personal datum in clear: every text a row holds (turns,
completion, reasoning, metadata, the pre-repair sample, an unreadable record's raw text, the
input id) is written through `mask_secrets`, which masks in place at the same length, so verdict
spans into the stored text stay valid. A sample's id is the hash of its content as stored (masked),
so versions built from these rows verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from synthgate.schemas.sample import Sample
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.validators.secrets import mask_sample, mask_secrets

RAW_MAX_CHARS = 2_000

_COLUMNS = (
    "idx, input_id, sample_id, system_prompt, prompt, completion, reasoning, task_type, metadata, "
    "original, raw, shard, line, prompt_tokens, completion_tokens"
)

# Columns filled from the (repaired) sample; all NULL for an unreadable record.
_SAMPLE_FIELDS = (
    "sample_id",
    "system_prompt",
    "prompt",
    "completion",
    "reasoning",
    "task_type",
    "metadata",
)


@dataclass(frozen=True)
class SampleRow:
    """One input record as stored.

    `sample` is the repaired sample (None for an unreadable record, whose text is in `raw`);
    `original` is the sample before repairs, None when nothing changed. `shard` numbers the file
    the record was read from (the dataset summary's `shards`), `line` is its line there;
    `tokens` the length check's (prompt, completion) count, None when no length check ran.
    """

    index: int
    input_id: str | None
    sample: Sample | None
    original: Sample | None
    raw: str | None
    shard: int | None = None
    line: int | None = None
    tokens: tuple[int, int] | None = None  # (prompt, completion) as the length check counted them


class Samples:
    """Bulk-insert and stream a dataset's records."""

    def __init__(self, con: Connection, datasets: Datasets) -> None:
        self._con = con
        self._datasets = datasets

    def add_batch(self, dataset_id: str, rows: list[SampleRow], *, masked: bool = False) -> None:
        """Append records in one vectorised insert; an index stored twice is a StoreError.

        `masked`: the samples were masked when first stored (a run's kept samples, read back from
        gen_jobs), so they are not scanned for secrets again.
        """
        self._datasets.require(dataset_id)
        if rows:
            self._con.insert_arrow("samples", samples_arrow(dataset_id, rows, masked))

    def iter(self, dataset_id: str) -> Iterator[SampleRow]:
        """The dataset's records in index order, streamed (memory stays flat)."""
        self._datasets.require(dataset_id)
        sql = f"SELECT {_COLUMNS} FROM samples WHERE dataset_id = ? ORDER BY idx"
        for row in self._con.stream(sql, [dataset_id]):
            yield _from_row(row)

    def get(self, dataset_id: str, index: int) -> SampleRow | None:
        """One record by index, None when the dataset has no such record."""
        row = self._con.fetchone(
            f"SELECT {_COLUMNS} FROM samples WHERE dataset_id = ? AND idx = ?", [dataset_id, index]
        )
        return _from_row(row) if row is not None else None

    def count(self, dataset_id: str) -> int:
        """Number of records stored for the dataset."""
        row = self._con.fetchone("SELECT count(*) FROM samples WHERE dataset_id = ?", [dataset_id])
        return int(row[0]) if row else 0


def samples_arrow(dataset_id: str, rows: list[SampleRow], masked: bool = False) -> pa.Table:
    """Rows of the `samples` table for these records, masked (see the module docstring)."""
    cols: dict[str, list] = {name: [] for name in ("idx", "input_id", "raw", "original", *_SAMPLE_FIELDS)}
    for r in rows:
        s = r.sample if masked or r.sample is None else mask_sample(r.sample)
        cols["idx"].append(r.index)
        cols["input_id"].append(mask_secrets(r.input_id) if r.input_id is not None else None)
        cols["raw"].append(mask_secrets(r.raw)[:RAW_MAX_CHARS] if r.raw is not None else None)
        # Keep the pre-repair sample only when it differs: the repaired one is already in columns.
        same = r.original is None or r.original == r.sample
        cols["original"].append(None if same else _sample_json(r.original))
        if s is None:
            for name in _SAMPLE_FIELDS:
                cols[name].append(None)
            continue
        cols["sample_id"].append(s.id)
        cols["system_prompt"].append(s.system_prompt)
        cols["prompt"].append(
            json.dumps([{"role": m.role, "content": m.content} for m in s.prompt], ensure_ascii=False)
        )
        cols["completion"].append(s.completion)
        cols["reasoning"].append(s.reasoning)
        cols["task_type"].append(s.task_type)
        # Defaults left out: most records carry little metadata, and loading restores the defaults.
        cols["metadata"].append(s.metadata.model_dump_json(exclude_defaults=True))
    arrays = {"dataset_id": pa.array([dataset_id] * len(rows), pa.string())}
    arrays["idx"] = pa.array(cols.pop("idx"), pa.int64())
    arrays["shard"] = pa.array([r.shard for r in rows], pa.int32())
    arrays["line"] = pa.array([r.line for r in rows], pa.int64())
    arrays.update({name: pa.array(values, pa.string()) for name, values in cols.items()})
    arrays["prompt_tokens"] = pa.array([r.tokens[0] if r.tokens else None for r in rows], pa.int64())
    arrays["completion_tokens"] = pa.array([r.tokens[1] if r.tokens else None for r in rows], pa.int64())
    return pa.table(arrays)


def _sample_json(sample: Sample | None) -> str | None:
    # Defaults left out keep the column small; model_validate_json restores them.
    return mask_sample(sample).model_dump_json(exclude_defaults=True) if sample is not None else None


def _from_row(row: tuple) -> SampleRow:
    idx, input_id, sample_id, system, prompt, completion, reasoning, task, metadata, original, raw = row[:11]
    prompt_tokens, completion_tokens = row[13:]
    sample = None
    if sample_id is not None:
        sample = Sample.model_validate(
            {
                "id": sample_id,
                "system_prompt": system,
                "prompt": json.loads(prompt),
                "completion": completion,
                "reasoning": reasoning,
                "task_type": task,
                "metadata": json.loads(metadata) if metadata else {},
            }
        )
    return SampleRow(
        index=idx,
        input_id=input_id,
        sample=sample,
        original=Sample.model_validate_json(original) if original is not None else None,
        raw=raw,
        shard=row[11],
        line=row[12],
        tokens=(prompt_tokens, completion_tokens) if prompt_tokens is not None else None,
    )
