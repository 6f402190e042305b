"""Audit throughput on a compressed input vs. the tokenization floor.

Writes the records of benchmarks/audit_throughput.py (~400 tokens each) as JSONL, compresses them
(gzip by default; --codec bz2/xz/zst), then measures in child processes:
  floor      : load the default tokenizer + batch-tokenize the plain file's texts (nothing else)
  decompress : stream the compressed file through synthgate's reader layer (open_binary), line by line
  audit      : the whole `synthgate audit` library path on the compressed file (every validator and
               set check, a fresh DuckDB file)
  audit plain: the same audit on the plain file, for the cost of decompression inside the audit
and prints the audit / floor ratio on the compressed input (goal: <= 1.5, as for plain files).

Usage: .venv/bin/python benchmarks/audit_compressed.py [--n 20000] [--codec gzip]
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_throughput import make_records  # noqa: E402 - a sibling script, not a package

CODECS = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "zst": ".zst"}


def compress(src: Path, codec: str) -> Path:
    dst = src.with_name(src.name + CODECS[codec])
    with src.open("rb") as f:
        if codec == "gzip":
            with gzip.open(dst, "wb", compresslevel=6) as out:
                shutil.copyfileobj(f, out, 1 << 20)
        elif codec == "bz2":
            with bz2.open(dst, "wb") as out:
                shutil.copyfileobj(f, out, 1 << 20)
        elif codec == "xz":
            with lzma.open(dst, "wb") as out:
                shutil.copyfileobj(f, out, 1 << 20)
        else:
            import zstandard

            with dst.open("wb") as raw, zstandard.ZstdCompressor().stream_writer(raw) as out:
                shutil.copyfileobj(f, out, 1 << 20)
    return dst


def _decompress(path: str) -> None:
    from synthgate.audit.inputs import open_binary

    t0 = time.perf_counter()
    lines = size = 0
    with open_binary(path) as f:
        for line in f:
            lines += 1
            size += len(line)
    print(json.dumps({"seconds": time.perf_counter() - t0, "lines": lines, "bytes": size}))


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / args[0]), *args[1:]],
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--codec", choices=list(CODECS), default="gzip")
    ap.add_argument("--_decompress")
    args = ap.parse_args()
    if args._decompress:
        return _decompress(args._decompress)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "records.jsonl"
        make_records(plain, args.n)
        t = time.perf_counter()
        packed = compress(plain, args.codec)
        mb = (plain.stat().st_size / 1e6, packed.stat().st_size / 1e6)
        print(
            f"{args.n} records: {mb[0]:.0f} MB plain, {mb[1]:.0f} MB {args.codec} "
            f"(compressed in {time.perf_counter() - t:.1f}s)"
        )
        bench = "audit_throughput.py"
        _child(bench, "--_floor", str(plain))  # warm the tokenizer cache and the page cache
        floor = _child(bench, "--_floor", str(plain))
        unpack = _child("audit_compressed.py", "--_decompress", str(packed))
        res = _child(bench, "--_audit", str(packed), "--_db", str(Path(tmp) / "packed.duckdb"))
        ref = _child(bench, "--_audit", str(plain), "--_db", str(Path(tmp) / "plain.duckdb"))
    print(f"floor      (load tokenizer + tokenize): {floor['seconds']:.1f}s")
    print(
        f"decompress ({args.codec}, stream every line): {unpack['seconds']:.2f}s "
        f"({unpack['bytes'] / 1e6 / unpack['seconds']:.0f} MB/s, "
        f"{unpack['seconds'] / floor['seconds']:.1%} of the floor)"
    )
    print(
        f"audit      ({args.codec} input): {res['seconds']:.1f}s ({args.n / res['seconds']:.0f} records/s, "
        f"peak RSS {res['peak_rss_mb']:.0f} MB)"
    )
    print(f"audit      (plain input): {ref['seconds']:.1f}s (peak RSS {ref['peak_rss_mb']:.0f} MB)")
    print(f"ratio      audit ({args.codec}) / floor: {res['seconds'] / floor['seconds']:.2f}  (goal <= 1.5)")
    print(f"ratio      audit (plain) / floor: {ref['seconds'] / floor['seconds']:.2f}")


if __name__ == "__main__":
    main()
