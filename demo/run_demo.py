"""`make demo`: run synthgate's main job on the embedded defaults and print each step's result.

Step 1 audits demo/data/poisoned_rag.jsonl, a small RAG set carrying each failure mode the seeds
describe; the audit is expected to exit 1 (blocking findings), which is the point of the demo.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo" / "out"
CLI = [sys.executable, "-m", "synthgate.cli.app"]


def step(title: str, args: list[str], ok_codes: tuple[int, ...] = (0,)) -> str:
    print(f"\n=== {title}\n$ synthgate {' '.join(args)}", flush=True)
    proc = subprocess.run(CLI + args, cwd=ROOT, text=True, stdout=subprocess.PIPE)
    print(proc.stdout, end="", flush=True)
    if proc.returncode not in ok_codes:
        sys.exit(f"demo step failed: exit {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    db = str(OUT / "demo.duckdb")
    dataset_id = step(
        "1. audit a poisoned RAG dataset (exit 1 expected: it has blocking findings)",
        [
            "audit",
            "demo/data/poisoned_rag.jsonl",
            "--db",
            db,
            "--max-length",
            "512",
            "--report",
            str(OUT / "report.jsonl"),
            "--summary",
            str(OUT / "summary.json"),
        ],
        ok_codes=(1,),
    )
    print(f"\nstored dataset: {dataset_id}; per-record report: demo/out/report.jsonl")


if __name__ == "__main__":
    main()
