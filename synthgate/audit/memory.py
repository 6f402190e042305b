"""Records held in memory (a list of dicts, a pandas DataFrame, a `datasets.Dataset`) read as the
file readers read a file: one RawRecord per record, a bad record carrying its InputError.

Each kind reaches the records the way its file form would: a DataFrame or a Dataset through Arrow
(as a Parquet or Arrow file is read, so numpy and Arrow values become plain Python ones), a list
of dicts through a JSON round trip (as a JSONL line holding the same record is read, so the audit
never touches the caller's objects and values JSON cannot hold become text). Neither pandas nor
datasets is imported here: an object is recognised only when its library is already loaded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgate.audit.inputs import DEFAULT_SPLIT
from synthgate.audit.readers import MAX_DEPTH, RawRecord, nests_deeper
from synthgate.errors import InputError

_BATCH = 1024


@dataclass(frozen=True)
class MemoryInput:
    """In-memory records as one dataset: `label` names them wherever a file name would appear
    (error messages, the store's source, the report's `shard`)."""

    label: str
    data: Any

    @property
    def shards(self) -> tuple[str, ...]:
        return (self.label,)

    @property
    def source(self) -> str:
        return self.label

    @property
    def name(self) -> str:
        return self.label

    def sha256(self, shard_hashes: Sequence[str | None] | None = None) -> None:
        """In-memory data has no file to hash."""
        return None

    def records(self) -> Iterator[RawRecord]:
        """The records in order; raises InputError at once when there are none."""
        if _is_instance(self.data, "pandas", "DataFrame"):
            rows = _dataframe_rows(self.data, self.label)
        elif _is_instance(self.data, "datasets", "Dataset"):
            rows = _arrow_rows(self.data.with_format("arrow").iter(batch_size=_BATCH))
        else:
            return _checked(self.data, self.label, copy=True)
        return _checked(rows, self.label, copy=False)


def memory_input(data: Any, split: str | None = None) -> MemoryInput | None:
    """`data` as a MemoryInput, or None when it names files (a path, or a list of paths).

    Raises InputError for a kind of object synthgate cannot read, naming what it is.

    >>> memory_input([{"prompt": "2+2?", "completion": "4"}]).label
    'list of 1 record'
    >>> memory_input("train.jsonl") is None
    True
    """
    if isinstance(data, str | Path):
        return None
    if _is_instance(data, "pandas", "DataFrame"):
        return MemoryInput(f"pandas DataFrame ({_count(len(data), 'row')})", data)
    if _is_instance(data, "datasets", "DatasetDict"):
        return _dataset_split(data, split)
    if _is_instance(data, "datasets", "Dataset"):
        return MemoryInput(f"datasets.Dataset ({_count(data.num_rows, 'row')})", data)
    if isinstance(data, Sequence) and not isinstance(data, bytes | bytearray):
        if data and all(isinstance(item, str | Path) for item in data):
            return None
        if not data:
            raise InputError("the list of records is empty: it holds no records", code="input.malformed")
        return MemoryInput(f"list of {_count(len(data), 'record')}", data)
    raise InputError(
        f"cannot audit a {type(data).__module__}.{type(data).__qualname__}",
        code="input.wrong_type",
        hint="Pass a file path, a list of dicts, a pandas DataFrame or a datasets.Dataset.",
    )


def _dataset_split(data: Any, split: str | None) -> MemoryInput:
    name = split or DEFAULT_SPLIT
    if name not in data:
        raise InputError(
            f"the DatasetDict holds the splits {', '.join(data)} but no {name!r} split",
            code="input.malformed",
            hint="Pass split= with one of its splits, or the split's Dataset itself.",
        )
    ds = data[name]
    return MemoryInput(f"datasets.Dataset ({name}, {_count(ds.num_rows, 'row')})", ds)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _is_instance(obj: Any, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


def _dataframe_rows(df: Any, label: str) -> Iterator[Any]:
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as err:
        # Arrow names the column it could not convert (mixed types in one object column).
        raise InputError(f"could not be read as a table: {err}", path=label, code="input.malformed") from None
    return _arrow_rows(table.to_batches(max_chunksize=_BATCH))


def _arrow_rows(batches: Any) -> Iterator[Any]:
    for batch in batches:  # only one batch is turned into Python objects at a time
        yield from batch.to_pylist()


def _checked(rows: Any, label: str, *, copy: bool) -> Iterator[RawRecord]:
    n = 0
    for index, item in enumerate(rows):
        n += 1
        yield _record(index, item, label, copy)
    if n == 0:
        raise InputError("holds no records", path=label, code="input.malformed")


def _record(index: int, item: Any, label: str, copy: bool) -> RawRecord:
    def bad(msg: str, code: str = "input.malformed") -> RawRecord:
        return RawRecord(index, None, None, InputError(msg, path=label, record=index, code=code))

    if not isinstance(item, Mapping):
        return bad(f"a record must be a dict, got {type(item).__name__}", "input.wrong_type")
    if nests_deeper(dict(item), MAX_DEPTH):
        return bad(f"nests lists/dicts too deep to read (more than {MAX_DEPTH} levels)")
    if not copy:  # rows Arrow made: plain Python values already, as a Parquet file's rows are
        return RawRecord(index, None, dict(item), None)
    try:
        # A copy through JSON, as the record would be read from a JSONL line (see the module doc).
        data = json.loads(json.dumps(item, ensure_ascii=False, default=str))
    except (TypeError, ValueError) as err:  # keys that are not strings, circular references
        return bad(f"cannot be read as a JSON object: {err}")
    return RawRecord(index, None, data, None)
