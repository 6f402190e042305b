"""HTML report size and build time vs. the number of records.

Stores N synthetic records straight into a fresh DuckDB file through the store API (no validators:
this measures the report, not the audit): each record gets token counts, ~10% carry one or two
verdicts drawn from every reason code (with spans), and the set gets a few findings and diversity
stats. Then builds `synthgate report` for it and prints records, file size and build time. The
report holds aggregates and at most 5 examples per code, so its size should not grow with N.

Usage: .venv/bin/python benchmarks/report_size.py [--n 50000] [--keep]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthgate.report.html import write_report  # noqa: E402
from synthgate.schemas.sample import Sample  # noqa: E402
from synthgate.schemas.verdict import SetFinding, Span  # noqa: E402
from synthgate.store import SampleRow, Store  # noqa: E402
from synthgate.validators.codes import CODES, verdict  # noqa: E402

WORDS = (
    "model adapter gradient quantization context retrieval passage answer layer rank matrix memory "
    "training evaluation dataset token sequence attention weight optimizer schedule warmup batch"
).split()
BATCH = 5_000


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def fill(store: Store, n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    record_codes = [c for c in CODES.values() if not c.code.startswith(("set.", "input."))]
    with store.transaction():
        ds = store.datasets.create(
            name=f"synthetic-{n}",
            source_path=None,
            source_sha256=None,
            fmt="auto",
            options={},
            chain_config={},
        )
        for start in range(0, n, BATCH):
            rows, verdicts = [], []
            for i in range(start, min(n, start + BATCH)):
                completion = text(rng, rng.randint(20, 120))
                sample = Sample(
                    system_prompt="Answer from the context.",
                    prompt=[{"role": "user", "content": f"Question {i}: " + text(rng, rng.randint(10, 60))}],
                    completion=completion,
                )
                p, c = rng.randint(40, 2400), rng.randint(10, 900)
                rows.append(SampleRow(i, None, sample, None, None, tokens=(p, c)))
                if rng.random() < 0.1:
                    for code in rng.sample(record_codes, rng.randint(1, 2)):
                        a = rng.randint(0, max(0, len(completion) - 10))
                        span = Span(start=a, end=min(len(completion), a + rng.randint(3, 40)))
                        verdicts.append(
                            (i, verdict("bench", code.code, f"{code.summary} (record {i})", span=span))
                        )
            store.samples.add_batch(ds, rows)
            store.verdicts.add_batch(ds, verdicts)
        findings = [
            SetFinding(code="set.template_collapse", severity="warn", message="many openings repeat",
                       count=n // 5, share=0.2, details={"top": [{"opening": "the model", "count": n // 5}]}),
            SetFinding(code="set.near_duplicate_share", severity="warn", message="duplicates",
                       count=n // 20, share=0.05, details={"clusters": [{"size": 12}, {"size": 7}]}),
        ]  # fmt: skip
        store.datasets.add_findings(ds, findings)
        store.datasets.finish(ds, {"records": n, "read_as": {"messages": n}})
    return ds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="Keep the report and the DuckDB file.")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="report_size_"))
    with Store.open(tmp / "bench.duckdb") as store:
        started = time.perf_counter()
        ds = fill(store, args.n)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        path = write_report(store, ds, tmp / "report.html")
        built = time.perf_counter() - started
    size = path.stat().st_size
    print(f"records           {args.n:>10,}")
    print(f"store fill        {filled:>10.1f} s")
    print(f"report build      {built:>10.1f} s")
    print(f"report size       {size / 1024:>10.1f} KiB ({size:,} bytes)")
    print(f"bytes per record  {size / args.n:>10.3f}")
    if args.keep:
        print(f"kept: {tmp}")
    else:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
