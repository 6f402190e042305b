"""An InputSet cut into blocks that separate workers read, each record numbered as one reader of
the whole set would number it.

Uncompressed JSONL splits into byte ranges cut at line starts and Parquet into runs of row groups,
so one big file still spreads over many workers; every other kind (JSON, CSV, Arrow, datasets
folders, compressed files) is one block per file, since its records can only be found by reading
it from the start. `count_block` is the cheap first pass (JSONL: lines; Parquet: metadata; other
kinds: a full read) that tells each block the index of its first record and its first line;
`read_block` then yields exactly the RawRecords `read_records` yields for those records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from synthgate.audit.inputs import InputSet, compression_of, data_suffix
from synthgate.audit.readers import (
    RawRecord,
    open_shard,
    place_in_set,
    read_jsonl_range,
    read_parquet_row_groups,
)
from synthgate.errors import InputError

JSONL, PARQUET, WHOLE = "jsonl", "parquet", "file"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Block:
    """Part of one shard: JSONL bytes [start, end), Parquet row groups [start, end), or the whole
    file. `first_line` and `local_first` (records of the shard before the block) are known once
    the blocks before it in the shard are counted; `shard_first` (records of the shards before)
    once every earlier shard is."""

    number: int
    shard: int
    kind: str
    start: int = 0
    end: int = 0
    first_line: int = 1
    local_first: int = 0
    shard_first: int = 0
    records: int | None = None  # known ahead for Parquet, else after count_block

    @property
    def first_index(self) -> int:
        """The index of the block's first record over the whole set."""
        return self.shard_first + self.local_first


def plan_blocks(inputs: InputSet, block_bytes: int, block_rows: int) -> list[Block]:
    """Cut every shard into blocks of about `block_bytes` (JSONL) or `block_rows` rows (Parquet)."""
    blocks: list[Block] = []
    for n, path in enumerate(inputs.shards):
        if path.is_file() and compression_of(path) is None and data_suffix(path) in (".jsonl", ".ndjson"):
            cuts = _line_starts(path, block_bytes)
            for start, end in zip(cuts, cuts[1:], strict=False):
                blocks.append(Block(len(blocks), n, JSONL, start, end))
        elif path.is_file() and data_suffix(path) == ".parquet":
            blocks.extend(_row_group_blocks(path, n, len(blocks), block_rows))
        else:
            blocks.append(Block(len(blocks), n, WHOLE))
    return blocks


def count_block(inputs: InputSet, block: Block) -> tuple[int, int]:
    """(records, newline-ended lines) in the block: the first pass that numbers the next blocks."""
    path = inputs.shards[block.shard]
    if block.kind == PARQUET:
        return block.records or 0, 0
    if block.kind == WHOLE:
        try:
            return sum(1 for _ in open_shard(path)), 0
        except InputError:
            # A whole-file problem (an empty file): read_block raises it where the audit reads it.
            return 0, 0
    records = lines = 0
    with path.open("rb") as f:
        f.seek(block.start)
        offset = block.start
        for raw in f:
            if offset >= block.end:
                break
            first, offset = offset == 0, offset + len(raw)
            if first and raw.startswith(_BOM):  # as the reader does on line 1
                raw = raw[len(_BOM) :]
            lines += raw.endswith(b"\n")
            records += bool(raw.strip())
    return records, lines


def number_blocks(blocks: list[Block], counts: list[tuple[int, int]]) -> list[Block]:
    """Each block with its first line and first record index, from every block's count."""
    out: list[Block] = []
    shard_first, shard, local, line = 0, -1, 0, 1
    for block, (records, lines) in zip(blocks, counts, strict=True):
        if block.shard != shard:
            if out:
                shard_first += local
            shard, local, line = block.shard, 0, 1
        numbered = replace(block, first_line=line, local_first=local, shard_first=shard_first)
        out.append(replace(numbered, records=records))
        local += records
        line += lines
    return out


def read_block(inputs: InputSet, block: Block) -> Iterator[RawRecord]:
    """The block's records, exactly as `read_records(inputs)` yields them (index, line, errors)."""
    path = inputs.shards[block.shard]
    if block.kind == JSONL:
        records = read_jsonl_range(path, block.start, block.end, block.first_line, block.local_first)
    elif block.kind == PARQUET:
        records = read_parquet_row_groups(path, list(range(block.start, block.end)), block.local_first)
    else:
        records = open_shard(path)
    if len(inputs.shards) > 1:
        return place_in_set(records, block.shard, block.shard_first)
    return records


def _line_starts(path: Path, block_bytes: int) -> list[int]:
    """Offsets cutting the file into ranges of about `block_bytes`, each at a line start; the last
    is the file's size."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as f:
        while cuts[-1] + block_bytes < size:
            f.seek(cuts[-1] + block_bytes - 1)
            f.readline()  # the rest of the line the guess landed in (a guess on a line start ends it)
            at = f.tell()
            if at >= size:
                break
            cuts.append(at)
    cuts.append(size)
    return cuts


def _row_group_blocks(path: Path, shard: int, number: int, block_rows: int) -> list[Block]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, ValueError):
        return [Block(number, shard, WHOLE)]  # unreadable: the whole-file reader says why
    if meta.num_rows == 0:
        return [Block(number, shard, WHOLE)]
    blocks: list[Block] = []
    start = rows = 0
    for g in range(meta.num_row_groups):
        rows += meta.row_group(g).num_rows
        if rows >= block_rows or g == meta.num_row_groups - 1:
            blocks.append(Block(number + len(blocks), shard, PARQUET, start, g + 1, records=rows))
            start, rows = g + 1, 0
    return blocks
