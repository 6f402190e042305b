"""Dataset files -> raw record dicts, streamed so memory stays flat in dataset size.

JSONL, CSV, Parquet, Arrow and `datasets` save_to_disk folders stream; a JSON array has to be
parsed whole. Compressed files (.gz, .bz2, .xz, .zst) are decompressed on the fly, and a PATH may
name several shards (files, folders, globs, a hub snapshot: see synthgate.audit.inputs), read as
one dataset whose record indexes continue across shards. A record that cannot be read becomes a
RawRecord carrying an InputError, so one bad line is reported with its neighbours instead of
ending the audit; problems with a whole file (missing, empty, unknown kind) raise InputError
before any record is yielded.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from synthgate.audit.inputs import (
    COMPRESSIONS,
    DEFAULT_SPLIT,
    InputSet,
    compression_of,
    data_suffix,
    open_binary,
    resolve_inputs,
)
from synthgate.errors import InputError
from synthgate.schemas.field_map import map_record
from synthgate.schemas.record_errors import RecordError

SUPPORTED = (
    ".jsonl",
    ".ndjson",
    ".json",
    ".parquet",
    ".csv",
    ".arrow",
    "a datasets save_to_disk folder",
    "each but Parquet/Arrow also as .gz, .bz2, .xz or .zst",
)
_BATCH = 1024
_BOM = b"\xef\xbb\xbf"
# csv.reader yields cells as text; these columns hold JSON lists/objects in CSV exports.
_JSON_COLUMNS = frozenset(
    {"messages", "conversations", "history", "source_ids", "metadata", "critic_scores", "generation_params"}
)
_MAYBE_JSON_COLUMNS = frozenset({"prompt", "completion", "tools"})  # kept as text unless a list of objects
# Deepest nesting of lists/objects a record may have. Real records stay under ~15 (messages, content
# parts, tool schemas); the store's JSON serializer gives up far deeper, so deeper ones are refused here.
MAX_DEPTH = 64
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8


@dataclass(frozen=True)
class RawRecord:
    """One record as read: `index` 0-based over all records (of all shards), `line` (1-based, in
    its shard) where the format has lines, and either the record's `data` or the `error` that kept
    it from being read. `shard` numbers the record's file in the InputSet's `shards`; `first` is
    the index of that shard's first record, so `row` is the record's 0-based place in its file."""

    index: int
    line: int | None
    data: dict[str, Any] | None
    error: InputError | None
    shard: int = 0
    first: int = 0

    @property
    def row(self) -> int:
        return self.index - self.first


def read_records(
    path: str | Path | Sequence[str | Path] | InputSet,
    *,
    split: str | None = None,
    default_split: str | None = DEFAULT_SPLIT,
) -> Iterator[RawRecord]:
    """Stream the records of JSONL/JSON/Parquet/CSV/Arrow files (compressed or not), `datasets`
    save_to_disk folders, or the shards of folders and globs (see `resolve_inputs`), as one dataset.

    Raises InputError at once when a file is missing, of an unknown kind or empty.
    """
    inputs = path if isinstance(path, InputSet) else resolve_inputs(path, split, default_split)
    for shard in inputs.shards[1:]:
        _opener(shard)  # every shard's whole-file problems surface before the first record
    first = open_shard(inputs.shards[0])
    if len(inputs.shards) == 1:
        return first
    return _chained(inputs.shards, first)


def open_shard(p: Path) -> Iterator[RawRecord]:
    """One file's (or datasets folder's) records, indexes from 0; an empty one raises at its end."""
    if p.is_dir():
        return _counted(p, _open_datasets_folder(p))
    return _counted(p, _opener(p)(p))


def _opener(p: Path) -> Callable[[Path], Iterator[RawRecord]]:
    """The reader for one file; raises InputError when the file cannot be one of ours."""
    if not p.exists():
        raise _file_error(p, "no such file or folder")
    if p.is_dir():
        return _open_datasets_folder
    suffix = data_suffix(p)
    opener = _OPENERS.get(suffix)
    if opener is None:
        if p.suffix.lower() in COMPRESSIONS:
            msg = f"names no data format before {p.suffix!r}; name it like train.jsonl{p.suffix}"
        else:
            msg = f"unknown file kind {p.suffix or '(no extension)'!r}"
        raise _file_error(p, f"{msg}; supported: {_supported()}")
    if p.stat().st_size == 0:
        raise _empty(p)
    if suffix in (".parquet", ".arrow") and (codec := compression_of(p)):
        msg = (
            f"is a {codec}-compressed {suffix[1:].title()} file: {suffix[1:].title()} compresses "
            "internally, so synthgate does not read it through another compression; decompress it"
        )
        raise _file_error(p, msg)
    return opener


def _chained(shards: tuple[Path, ...], first: Iterator[RawRecord]) -> Iterator[RawRecord]:
    """The shards' records one after another, indexes continuing; errors renumbered to match."""
    start = 0
    for n, shard in enumerate(shards):
        count = 0
        for rec in place_in_set(first if n == 0 else open_shard(shard), n, start):
            yield rec
            count += 1
        start += count


def place_in_set(records: Iterator[RawRecord], shard: int, start: int) -> Iterator[RawRecord]:
    """A file's records as shard `shard` of several whose records before it number `start`:
    indexes continue over the shards, errors renumbered to match."""
    for rec in records:
        err = rec.error if rec.error is None else _renumbered(rec.error, rec, start)
        yield RawRecord(rec.index + start, rec.line, rec.data, err, shard, start)


def _renumbered(err: InputError, rec: RawRecord, start: int) -> InputError:
    # "record N" counts over all shards, as in the report; a format without lines also names
    # the record's place in its own file.
    where = "" if rec.line is not None else f" (row {rec.index} of the file)"
    return InputError(
        err.detail + where,
        path=err.path,
        record=None if err.record is None else err.record + start,
        field=err.field,
        code=err.code,
        hint=err.hint,
    )


def count_hint(path: str | Path | InputSet) -> int | None:
    """A cheap record count for progress bars (Parquet metadata, JSONL line count), else None."""
    if isinstance(path, InputSet):
        hints = [count_hint(p) for p in path.shards]
        return None if None in hints else sum(hints)  # type: ignore[arg-type]
    p = Path(path)
    if compression_of(p) is not None:
        return None  # counting lines would decompress the whole file once more
    try:
        if p.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(p).metadata.num_rows
        if p.suffix.lower() in (".jsonl", ".ndjson"):
            n, last = 0, b"\n"
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    n, last = n + block.count(b"\n"), block[-1:]
            return n + (last != b"\n")  # blank lines count too: a hint, not a promise
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return None
    return None


# --- JSON Lines and JSON ------------------------------------------------------------------


def _open_jsonl(path: Path) -> Iterator[RawRecord]:
    # Bytes in, decoded line by line: one non-UTF-8 line is one bad record, not a dead file.
    with open_binary(path) as f:
        yield from _jsonl_lines(path, f, 0, 1, 0, None)


def read_jsonl_range(
    path: Path, start: int, end: int, first_line: int, first_index: int
) -> Iterator[RawRecord]:
    """The records of an uncompressed JSONL file whose lines start in bytes [start, end) (`start`
    a line start), numbered from `first_line` and `first_index` as reading the whole file would."""
    with path.open("rb") as f:
        f.seek(start)
        yield from _jsonl_lines(path, f, start, first_line, first_index, end)


def _jsonl_lines(
    path: Path, f: BinaryIO, offset: int, first_line: int, index: int, end: int | None
) -> Iterator[RawRecord]:
    for lineno, raw in enumerate(f, first_line):
        if end is not None and offset >= end:
            return
        start = offset
        offset += len(raw)
        if lineno == 1 and raw.startswith(_BOM):
            raw, start = raw[len(_BOM) :], start + len(_BOM)
        if not raw.strip():
            continue
        yield RawRecord(index, lineno, *_parse_line(path, index, lineno, raw, start))
        index += 1


def _parse_line(
    path: Path, index: int, lineno: int, raw: bytes, start: int
) -> tuple[dict[str, Any] | None, InputError | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = (
            f"line {lineno} is not valid UTF-8: byte 0x{raw[err.start]:02x} at byte offset {err.start} "
            f"of the line (offset {start + err.start} in the file)"
        )
        return None, InputError(msg, path=str(path), record=index, code="input.not_utf8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        msg = f"line {lineno} is not valid JSON: {err.msg} (column {err.colno})"
        return None, InputError(msg, path=str(path), record=index, code="input.malformed")
    except RecursionError:
        return None, InputError(
            _too_deep(f"line {lineno}"), path=str(path), record=index, code="input.malformed"
        )
    if nests_deeper(data, MAX_DEPTH):
        msg = _too_deep(f"line {lineno}")
        return None, InputError(msg, path=str(path), record=index, code="input.malformed")
    if not isinstance(data, dict):
        msg = f"line {lineno} holds {_kind(data)}; each line must hold one JSON object (a record)"
        return None, InputError(msg, path=str(path), record=index, code="input.wrong_type")
    return data, None


def _open_json(path: Path) -> Iterator[RawRecord]:
    with open_binary(path) as f:
        raw = f.read().removeprefix(_BOM)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"not valid UTF-8: byte 0x{raw[err.start]:02x} at byte offset {err.start}"
        raise _file_error(path, msg, code="input.not_utf8") from None
    del raw
    if not text.strip():
        raise _empty(path)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise _file_error(path, _too_deep("the file")) from None
    except json.JSONDecodeError as err:
        if err.msg == "Extra data" and text.lstrip().startswith("{"):
            return _open_jsonl(path)  # JSON Lines saved as .json, a common mix-up
        msg = f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        raise _file_error(path, msg) from None
    del text
    items = _records_in(path, doc)
    if not items:
        raise _empty(path)
    return (_item(path, i, item) for i, item in enumerate(items))


def _records_in(path: Path, doc: Any) -> list[Any]:
    """The record list: the array itself, the one list inside a wrapper object, or one record."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        try:
            map_record(doc)
            return [doc]  # a file holding a single record
        except RecordError:
            pass
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if len(lists) == 1:
            return doc[lists[0]]
        found = f"lists under {', '.join(map(repr, lists))}" if lists else f"keys {sorted(doc)} and no list"
        msg = (
            f"holds an object with {found}; expected an array of records or an object holding "
            'exactly one list of records (e.g. {"data": [...]})'
        )
        raise _file_error(path, msg)
    raise _file_error(path, f"holds {_kind(doc)}; expected an array of records")


def _item(path: Path, index: int, item: Any) -> RawRecord:
    if isinstance(item, dict) and nests_deeper(item, MAX_DEPTH):
        error = InputError(_too_deep(f"record {index}"), path=str(path), record=index, code="input.malformed")
        return RawRecord(index, None, None, error)
    if isinstance(item, dict):
        return RawRecord(index, None, item, None)
    msg = f"is {_kind(item)}; a record must be a JSON object"
    return RawRecord(
        index, None, None, InputError(msg, path=str(path), record=index, code="input.wrong_type")
    )


# --- CSV ----------------------------------------------------------------------------------


def _open_csv(path: Path) -> Iterator[RawRecord]:
    # Long conversations overflow csv's default 128 KiB cell limit; raise it for this reader.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open_binary(path) as f:
        # Decode per line with surrogateescape so a bad byte spoils one row, reported below.
        lines = (line.decode("utf-8", "surrogateescape") for line in f)
        reader = csv.reader(_strip_bom(lines))
        header = next(reader, None)
        if not header:
            raise _empty(path)
        index = 0
        try:
            for cells in reader:
                if not cells:  # a blank line
                    continue
                yield RawRecord(
                    index, reader.line_num, *_csv_row(path, index, reader.line_num, header, cells)
                )
                index += 1
        except csv.Error as err:
            raise _file_error(path, f"line {reader.line_num} is not valid CSV: {err}") from None


def _csv_row(
    path: Path, index: int, lineno: int, header: list[str], cells: list[str]
) -> tuple[dict[str, Any] | None, InputError | None]:
    def error(msg: str, code: str = "input.malformed", field: str | None = None) -> tuple[None, InputError]:
        return None, InputError(f"line {lineno}: {msg}", path=str(path), record=index, field=field, code=code)

    if len(cells) > len(header):
        return error(f"the row has {len(cells)} cells but the header names {len(header)} columns")
    row: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        if bad := _UNDECODABLE.search(cell):
            return error(
                f"not valid UTF-8 at character {bad.start()} of the cell", code="input.not_utf8", field=name
            )
        row[name] = _cell(name, cell)
        if row[name] is _BAD_JSON:
            return error(f"the cell is not valid JSON: {_json_error(cell)}", field=name)
    return row, None


_BAD_JSON = object()


def _cell(name: str, cell: str) -> Any:
    if cell == "":
        return None  # CSV cannot tell an empty cell from a missing value
    if name in _JSON_COLUMNS and cell.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return _BAD_JSON
    if name in _MAYBE_JSON_COLUMNS and cell.lstrip()[:1] == "[":
        try:
            value = json.loads(cell)
        except json.JSONDecodeError:
            return cell
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return value
    return cell


def _json_error(cell: str) -> str:
    try:
        json.loads(cell)
    except json.JSONDecodeError as err:
        return f"{err.msg} (character {err.pos})"
    return "unknown"


def _strip_bom(lines: Iterator[str]) -> Iterator[str]:
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from lines


# --- Parquet and datasets folders ---------------------------------------------------------


def _open_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
        raise _file_error(path, f"not a readable Parquet file: {err}") from None
    if pf.metadata.num_rows == 0:
        raise _empty(path)
    return _rows(pf.iter_batches(batch_size=_BATCH))


def read_parquet_row_groups(path: Path, groups: list[int], first_index: int) -> Iterator[RawRecord]:
    """The records of some row groups of a Parquet file, numbered from `first_index` (the rows
    before the first group) as reading the whole file would."""
    import pyarrow.parquet as pq

    return _rows(pq.ParquetFile(path).iter_batches(batch_size=_BATCH, row_groups=groups), first_index)


def _open_arrow(path: Path) -> Iterator[RawRecord]:
    """An Arrow IPC file as the hub and `datasets` write it (the stream format), or the file format."""
    import pyarrow as pa

    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
        return _rows(iter(reader))
    except (OSError, ValueError):
        pass
    try:
        f = pa.ipc.open_file(pa.memory_map(str(path)))
    except (OSError, ValueError) as err:
        raise _file_error(path, f"not a readable Arrow file: {err}") from None
    return _rows(f.get_batch(i) for i in range(f.num_record_batches))


def _open_datasets_folder(path: Path) -> Iterator[RawRecord]:
    if not ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        msg = (
            "is a folder but not a datasets save_to_disk folder (no state.json or dataset_dict.json); "
            f"supported: {_supported()}"
        )
        raise _file_error(path, msg)
    from datasets import DatasetDict, load_from_disk

    try:
        ds = load_from_disk(str(path))
    except (OSError, ValueError) as err:
        raise _file_error(path, f"could not be loaded with datasets.load_from_disk: {err}") from None
    if isinstance(ds, DatasetDict):
        if "train" not in ds:
            msg = f"holds the splits {', '.join(ds)} but no 'train' split; pass one split's folder"
            raise _file_error(path, msg)
        ds = ds["train"]
    if ds.num_rows == 0:
        raise _empty(path)
    return _rows(ds.with_format("arrow").iter(batch_size=_BATCH))


def _rows(batches: Iterator[Any], index: int = 0) -> Iterator[RawRecord]:
    for batch in batches:  # pyarrow RecordBatch or Table: only one batch is in memory at a time
        for row in batch.to_pylist():
            yield RawRecord(index, None, row, None)
            index += 1


# --- whole-file errors --------------------------------------------------------------------


def _counted(path: Path, records: Iterator[RawRecord]) -> Iterator[RawRecord]:
    """Pass records through; a file that held only blank lines (or a CSV header) is empty too."""
    n = 0
    for rec in records:
        n += 1
        yield rec
    if n == 0:
        raise _empty(path)


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether `value` nests lists/objects more than `limit` levels (itself being level 1).

    >>> nests_deeper({"a": [[1]]}, 3), nests_deeper({"a": [[1]]}, 2)
    (False, True)
    """
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _too_deep(where: str) -> str:
    return f"{where} nests arrays/objects too deep to read (more than {MAX_DEPTH} levels)"


def empty_file_error(path: Path) -> InputError:
    """The error for a file that holds no records."""
    return _empty(path)


def _empty(path: Path) -> InputError:
    return _file_error(path, "the file is empty: it holds no records")


def _file_error(path: Path, message: str, *, code: str = "input.malformed") -> InputError:
    return InputError(message, path=str(path), code=code)


def _supported() -> str:
    return ", ".join(SUPPORTED)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


_OPENERS: dict[str, Callable[[Path], Iterator[RawRecord]]] = {
    ".jsonl": _open_jsonl,
    ".ndjson": _open_jsonl,
    ".json": _open_json,
    ".parquet": _open_parquet,
    ".csv": _open_csv,
    ".arrow": _open_arrow,
}
