"""Export throughput: gate + write N versioned samples as trl-jsonl, parquet and hf-dataset.

Builds the version the way a user does, through the library: N synthetic RAG records (~1,500
characters, one shared system prompt, all distinct) are audited with a minimal chain (no
per-sample validators, no set checks: the audit is set-up here, measured by audit_throughput.py),
then frozen as a version. Then it times, for each format, `training.export.export` end to end (gate
evaluation, reading and re-hashing the members, the deterministic split, writing the files and
their sha256, the manifest), the gate alone, and `verify_export` (what `synthgate train` pays
before loading a model). Every phase runs in this process; peak RSS is the process's.

Usage: .venv/bin/python benchmarks/export_throughput.py [--n 100000] [--formats trl-jsonl,parquet]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

WORDS = (
    "model adapter gradient quantization context retrieval passage answer layer rank matrix memory "
    "training evaluation dataset token sequence attention weight optimizer schedule warmup batch "
    "precision loss learning rate fine tuning benchmark corpus document paper method result table"
).split()
SYSTEM = "You are a research assistant. Answer only from the provided context, in prose."


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def make_records(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            context = " ".join(sentence(rng, rng.randint(10, 16)) for _ in range(8))
            answer = f"Paper {i} reports that " + " ".join(
                sentence(rng, rng.randint(8, 14)) for _ in range(4)
            )
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Context:\n{context}\n\nQuestion: what does paper {i} say?"},
                {"role": "assistant", "content": answer},
            ]
            f.write(json.dumps({"task_type": "grounded", "messages": messages}) + "\n")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--formats", default="trl-jsonl,parquet,hf-dataset")
    args = ap.parse_args()

    from synthgate.audit.runner import AuditOptions, audit
    from synthgate.schemas.chain_config import ChainConfig
    from synthgate.store import Store
    from synthgate.training.export import export
    from synthgate.training.gate import check_gate
    from synthgate.training.manifest import verify_export

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.jsonl"
        _, seconds = timed(lambda: make_records(data, args.n))
        print(f"generated {args.n} records ({data.stat().st_size / 1e6:.0f} MB) in {seconds:.1f}s")
        options = AuditOptions(chain=ChainConfig(order=[], set_checks=False))
        with Store.open(Path(tmp) / "bench.duckdb") as store:
            result, seconds = timed(lambda: audit(data, store, options))
            print(f"set-up: audit (minimal chain) {seconds:.1f}s", end="")
            info, seconds = timed(lambda: store.versions.create("bench", result.dataset_id))
            print(f", version create {seconds:.1f}s ({info.samples} samples)")
            gate, seconds = timed(lambda: check_gate(store, info.id))
            assert gate.passed, gate.explain()
            print(f"gate alone:  {seconds:.2f}s ({info.samples / seconds:,.0f} samples/s)")
            for fmt in args.formats.split(","):
                out = Path(tmp) / f"export-{fmt}"
                res, seconds = timed(lambda fmt=fmt, out=out: export(store, info.id, fmt, out))
                size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
                _, verify_s = timed(lambda out=out: verify_export(out))
                print(
                    f"export {fmt:<10} {seconds:6.1f}s  {info.samples / seconds:8,.0f} samples/s  "
                    f"{size / seconds:5.1f} MB/s written ({size:.0f} MB; {res.counts['train']} train, "
                    f"{res.counts['eval']} eval)  verify_export {verify_s:.2f}s"
                )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
