"""Audit memory vs. set size: peak RSS and wall time of `synthgate audit` at growing record counts.

Generates N synthetic RAG records (~400 tokens each, one shared system prompt) with a realistic
duplicate rate: 2% exact copies of an earlier record, 2% near copies (one word changed), 1% the
same completion under another question. Each size is audited in a child process (every validator
and set check on, a fresh DuckDB store, the store's default memory limit), so peak RSS
(ru_maxrss) is that audit's alone. Prints one row per size and the slope in bytes per record
between consecutive sizes; the goal is a flat line: peak RSS at 1M within 1.5x of that at 100k.

`--checkpoints` also prints, every tenth of the run, the process RSS and what DuckDB holds
(`duckdb_memory()`: buffer-managed memory by tag), which is how the figures in
docs/incoming/mem.md were found. `--phase generate` measures `synthgate generate` of N samples against
a loopback scripted server instead. `--phase version-export` measures `version create` and a
trl-jsonl `export` of the set instead, each in its own process (set up by an audit without
validators; the table shows the larger peak of the two and their summed time, each is printed).

Usage: .venv/bin/python benchmarks/audit_memory.py [--sizes 10000,100000,1000000] [--checkpoints]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_throughput import SYSTEM, sentence  # noqa: E402 - a sibling script, not a package


def make_records(path: Path, n: int, seed: int = 0) -> None:
    """N records of ~400 tokens; about 5% duplicate an earlier one (exactly, nearly, or in answer)."""
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []  # a window of earlier (user turn, answer) to copy from
    with path.open("w") as f:
        for i in range(n):
            roll = rng.random()
            if recent and roll < 0.02:
                user, answer = rng.choice(recent)
            elif recent and roll < 0.04:
                user, answer = rng.choice(recent)
                words = answer.split(" ")
                words[rng.randrange(len(words))] = "changed"
                answer = " ".join(words)
            elif recent and roll < 0.05:
                answer = rng.choice(recent)[1]
                user = f"Context:\n{sentence(rng, 40)}\n\nQuestion: what else does paper {i} say?"
            else:
                context = " ".join(sentence(rng, rng.randint(10, 20)) for _ in range(10))
                user = f"Context:\n{context}\n\nQuestion: what does paper {i} say?"
                answer = f"Paper {i} reports that " + " ".join(
                    sentence(rng, rng.randint(10, 18)) for _ in range(rng.randint(5, 8))
                )
            recent.append((user, answer))
            if len(recent) > 1000:
                recent.pop(rng.randrange(len(recent)))
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": user},
                {"role": "assistant", "content": answer},
            ]
            f.write(json.dumps({"messages": messages}) + "\n")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def _heap_mb() -> str:
    """Python's allocated blocks, and what glibc malloc holds in use / free (numpy, tokenizers)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    m = libc.mallinfo2()
    return (
        f"py blocks {sys.getallocatedblocks() / 1e6:.2f}M  malloc used {(m.uordblks + m.hblkhd) / 1e6:.0f} MB"
        f" free {m.fordblks / 1e6:.0f} MB"
    )


def _duckdb_mb(store) -> dict[str, float]:
    rows = store._con.fetchall(  # noqa: SLF001 - a benchmark peeking at the engine
        "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() "
        "WHERE memory_usage_bytes + temporary_storage_bytes > 0"
    )
    return {tag: round((mem + tmp) / 1e6, 1) for tag, mem, tmp in rows}


def _audit(path: str, db: str, n: int, checkpoints: bool) -> None:
    t0 = time.perf_counter()
    from synthgate.audit.runner import audit
    from synthgate.store import Store

    with Store.open(db) as store:
        seen = [0, n // 10]

        def progress(k: int) -> None:
            seen[0] += k
            if checkpoints and seen[0] >= seen[1]:
                seen[1] += n // 10
                line = f"  {seen[0]:>9} records  rss {_rss_mb():6.0f} MB  {_heap_mb()}"
                print(f"{line}  duckdb {_duckdb_mb(store)}", flush=True)

        result = audit(path, store, progress=progress)
        if checkpoints:
            print(f"  committed        rss {_rss_mb():7.0f} MB  duckdb {_duckdb_mb(store)}", flush=True)
    out = {"seconds": time.perf_counter() - t0, "records": result.records, "peak_rss_mb": _peak_mb()}
    print(json.dumps(out))


def _version_export(step: str, path: str, db: str) -> None:
    """One step in its own process, so each peak RSS is that step's alone: `audit` (set-up, no
    validators, no set checks), `version` (version create) or `export` (trl-jsonl, a gate that
    lets everything through)."""
    from synthgate.audit.runner import AuditOptions, audit
    from synthgate.schemas.chain_config import ChainConfig
    from synthgate.store import Store
    from synthgate.training.export import export
    from synthgate.training.gate import GatePolicy

    t0 = time.perf_counter()
    with Store.open(db) as store:
        if step == "audit":
            result = audit(path, store, AuditOptions(chain=ChainConfig(order=[], set_checks=False)))
            Path(f"{db}.ids").write_text(result.dataset_id)
        elif step == "version":
            info = store.versions.create("bench", Path(f"{db}.ids").read_text())
            Path(f"{db}.ids").write_text(info.id)
        else:
            policy = GatePolicy(block_codes=[], max_near_duplicate_share=1.0)
            export(store, Path(f"{db}.ids").read_text(), "trl-jsonl", Path(db).parent / "export", policy)
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": _peak_mb()}))


def _generate(n: int, tmp: str) -> None:
    """`generate` of n samples against the loopback scripted server (generate_throughput.py's set-up:
    one document per sample, the fast chain, no critic, concurrency 8, 0 ms latency)."""
    import multiprocessing as mp

    from generate_throughput import _serve, config_for, write_docs

    from synthgate.pipelines.runner import generate
    from synthgate.store import Store

    base = Path(tmp)
    write_docs(base / "docs", n)
    parent, child = mp.Pipe()
    server = mp.Process(target=_serve, args=(0.0, child), daemon=True)
    server.start()
    try:
        config = config_for(parent.recv(), n, 8, "fast")
        t0 = time.perf_counter()
        with Store.open(base / "gen.duckdb") as store:
            state = generate(config, store, base=base)
            seconds = time.perf_counter() - t0
            held = _duckdb_mb(store)
    finally:
        parent.send("stop")
        server.join(timeout=5)
    out = {"seconds": seconds, "records": state.kept, "peak_rss_mb": _peak_mb(), "duckdb_mb": held}
    print(json.dumps({**out, "heap": _heap_mb()}))


def _child(*args: str, checkpoints: bool = False) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, *args], text=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        if checkpoints and line.startswith("  "):
            print(line, end="", flush=True)
        last = line
    if proc.wait():
        raise SystemExit(f"child {args} failed with exit {proc.returncode}")
    return json.loads(last)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--phase", choices=("audit", "version-export", "generate"), default="audit")
    ap.add_argument("--checkpoints", action="store_true", help="Print RSS and DuckDB memory as it runs.")
    ap.add_argument("--tmp", help="Folder for the generated files and stores (default: a temp folder).")
    ap.add_argument("--_audit")
    ap.add_argument("--_version_export")
    ap.add_argument("--_generate")
    ap.add_argument("--_step", choices=("audit", "version", "export"))
    ap.add_argument("--_db")
    ap.add_argument("--_n", type=int, default=0)
    args = ap.parse_args()
    if args._audit:
        return _audit(args._audit, args._db, args._n, args.checkpoints)
    if args._version_export:
        return _version_export(args._step, args._version_export, args._db)
    if args._generate:
        return _generate(args._n, args._generate)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for n in sizes:
            data = Path(tmp) / f"records-{n}.jsonl"
            db = Path(tmp) / f"store-{n}" / "bench.duckdb"
            db.parent.mkdir()
            if args.phase == "generate":
                rows.append((n, _child("--_generate", str(db.parent), "--_n", str(n))))
                print(f"{n}: {json.dumps(rows[-1][1])}", flush=True)
                shutil.rmtree(db.parent)
                continue
            make_records(data, n)
            print(f"{n} records generated ({data.stat().st_size / 1e6:.0f} MB)", flush=True)
            if args.phase == "audit":
                flags = ["--checkpoints"] if args.checkpoints else []
                cmd = ("--_audit", str(data), "--_db", str(db), "--_n", str(n), *flags)
                res = _child(*cmd, checkpoints=bool(flags))
                res["records/s"] = n / res["seconds"]
            else:
                steps = {
                    step: _child("--_version_export", str(data), "--_db", str(db), "--_step", step)
                    for step in ("audit", "version", "export")
                }
                res = {f"{k}_{m}": v[m] for k, v in steps.items() for m in ("seconds", "peak_rss_mb")}
                res["seconds"] = steps["version"]["seconds"] + steps["export"]["seconds"]
                res["peak_rss_mb"] = max(steps["version"]["peak_rss_mb"], steps["export"]["peak_rss_mb"])
            rows.append((n, res))
            print(f"{n}: {json.dumps(res)}", flush=True)
            data.unlink()
            shutil.rmtree(db.parent)
    print()
    print(f"| records | wall s | peak RSS MB | slope bytes/record ({args.phase}) |")
    print("|---:|---:|---:|---:|")
    prev = None
    for n, res in rows:
        secs = res["seconds"]
        slope = "" if prev is None else f"{(res['peak_rss_mb'] - prev[1]) * 1e6 / (n - prev[0]):.0f}"
        print(f"| {n:,} | {secs:.0f} | {res['peak_rss_mb']:.0f} | {slope} |")
        prev = (n, res["peak_rss_mb"])
    if len(rows) >= 2:
        big, small = rows[-1][1]["peak_rss_mb"], rows[-2][1]["peak_rss_mb"]
        print(f"peak RSS {rows[-1][0]:,} / {rows[-2][0]:,}: {big / small:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
