"""Blocks of an input, read apart, give exactly the records one reader of the whole set gives:
index, line, shard, data and error messages (what `--engine ray` relies on)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from real_shapes import ALPACA, GSM8K

from synthgate.audit.blocks import JSONL, PARQUET, WHOLE, count_block, number_blocks, plan_blocks, read_block
from synthgate.audit.inputs import resolve_inputs
from synthgate.audit.readers import read_records


def _as_read(records) -> list[tuple]:
    return [(r.index, r.line, r.data, str(r.error) if r.error else None, r.shard, r.first) for r in records]


def _blockwise(inputs, block_bytes: int, block_rows: int) -> tuple[list[tuple], list]:
    blocks = plan_blocks(inputs, block_bytes, block_rows)
    blocks = number_blocks(blocks, [count_block(inputs, b) for b in blocks])
    return _as_read(r for b in blocks for r in read_block(inputs, b)), blocks


def _jsonl_with_trouble(path: Path) -> Path:
    """GSM8K records with a BOM, blank lines, bad JSON, a non-object and a non-UTF-8 line."""
    lines = [json.dumps({"prompt": r["question"], "completion": r["answer"]}) for r in GSM8K[:40]]
    lines[3], lines[9], lines[15] = "", "{not json", "   "
    lines[22] = "[1, 2]"
    body = b"\xef\xbb\xbf" + "\n".join(lines).encode() + b'\n{"prompt": "\xff"}\n\n' + lines[0].encode()
    path.write_bytes(body)  # the last line has no newline
    return path


@pytest.mark.parametrize("block_bytes", [1, 300, 2_000, 1 << 20])
def test_jsonl_byte_ranges_read_as_the_whole_file(tmp_path, block_bytes):
    inputs = resolve_inputs(_jsonl_with_trouble(tmp_path / "a.jsonl"))
    whole = _as_read(read_records(inputs))
    got, blocks = _blockwise(inputs, block_bytes, 1)
    assert got == whole
    assert {b.kind for b in blocks} == {JSONL}
    assert (len(blocks) > 1) == (block_bytes < 1 << 20)
    assert [r[0] for r in whole] == list(range(len(whole))) and whole[-1][1] == 43  # lines count blanks


def test_shards_of_every_kind_read_as_one_set(tmp_path):
    rows = [{"instruction": r["instruction"], "input": r["input"], "output": r["output"]} for r in ALPACA]
    pq.write_table(pa.Table.from_pylist(rows[:30]), tmp_path / "b.parquet", row_group_size=4)
    (tmp_path / "c.json").write_text(json.dumps(rows[30:]))
    paths = [_jsonl_with_trouble(tmp_path / "a.jsonl"), tmp_path / "b.parquet", tmp_path / "c.json"]
    inputs = resolve_inputs(paths)
    got, blocks = _blockwise(inputs, 500, 8)  # two row groups a block
    assert got == _as_read(read_records(inputs))
    assert [b.kind for b in blocks if b.shard > 0] == [PARQUET] * 4 + [WHOLE]
    # The JSONL shard holds 40 records (38 of its 40 lines, the non-UTF-8 one and the last one).
    assert [(b.first_index, b.records) for b in blocks if b.kind == PARQUET] == [
        (40, 8),
        (48, 8),
        (56, 8),
        (64, 6),
    ]
