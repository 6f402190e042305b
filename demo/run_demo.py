"""`make demo`: run synthgate's main job on the embedded defaults and print each step's result.

1. audit demo/data/poisoned_rag.jsonl, a small RAG set carrying each failure mode the seeds
   describe: exit 1 (blocking findings) is expected, which is the point of the demo;
2. freeze the poisoned set with its failing records and try to export it: the gate refuses (exit 1)
   and writes nothing;
3. audit demo/data/clean_rag.jsonl, a clean set on the same papers (exit 0);
4. freeze it as a version, 5. export it as TRL prompt/completion JSONL with a manifest,
6. train a LoRA adapter on the embedded Gemma 3 270M for a few steps (a smoke run, not a useful
   model), 7. compare base zero-shot, base few-shot and base + adapter on the shipped eval set.

Everything lands in demo/out/. About 5-10 minutes on two CPU cores, most of it steps 6 and 7.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo" / "out"
CLI = [sys.executable, "-m", "synthgate.cli.app"]
EVAL_SET = "synthgate/training/examples/rag_eval.jsonl"
TRAIN_STEPS = "4"
EVAL_TOKENS = "48"  # enough for a sentence or two; keeps three arms x 8 items to about a minute


def step(title: str, args: list[str], ok_codes: tuple[int, ...] = (0,)) -> str:
    print(f"\n=== {title}\n$ synthgate {' '.join(args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(CLI + args, cwd=ROOT, text=True, stdout=subprocess.PIPE)
    print(proc.stdout, end="", flush=True)
    print(f"(exit {proc.returncode}, {time.perf_counter() - started:.0f} s)", flush=True)
    if proc.returncode not in ok_codes:
        sys.exit(f"demo step failed: exit {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def main() -> None:
    started = time.perf_counter()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    db = ["--db", str(OUT / "demo.duckdb")]
    poisoned = step(
        "1. audit a poisoned RAG dataset (exit 1 expected: it has blocking findings)",
        [
            "audit",
            "demo/data/poisoned_rag.jsonl",
            *db,
            "--max-length",
            "512",
            "--report",
            str(OUT / "report.jsonl"),
            "--summary",
            str(OUT / "summary.json"),
        ],
        ok_codes=(1,),
    )
    print(f"\nstored dataset: {poisoned}; per-record report: demo/out/report.jsonl")

    poisoned_version = step(
        "2a. freeze the poisoned set, failing records included",
        ["version", "create", "rag-poisoned", "--source", poisoned, "--include", "pass,fixed,fail", *db],
    )
    step(
        "2b. try to export it (exit 1 expected: the gate refuses and writes nothing)",
        ["export", poisoned_version, "--out", str(OUT / "poisoned-export"), *db],
        ok_codes=(1,),
    )
    assert not (OUT / "poisoned-export").exists(), "a refused export must leave no folder"

    clean = step(
        "3. audit a clean RAG dataset on the same papers",
        ["audit", "demo/data/clean_rag.jsonl", *db, "--max-length", "512"],
    )
    version = step(
        "4. freeze it as an immutable version", ["version", "create", "rag-clean", "--source", clean, *db]
    )
    export = step(
        "5. export it for training (the gate passes; manifest.json records every file's sha256)",
        ["export", version, "--format", "trl-jsonl", "--out", str(OUT / "export"), *db],
    )
    adapter = step(
        f"6. train a LoRA adapter on the embedded Gemma 3 270M ({TRAIN_STEPS} steps: a smoke run)",
        [
            "train",
            export,
            "--base-model",
            "default",
            "--out",
            str(OUT / "adapter"),
            "--max-steps",
            TRAIN_STEPS,
        ],
    )
    step(
        "7. compare base zero-shot, base few-shot and base + adapter on the shipped eval set",
        [
            "eval",
            EVAL_SET,
            "--base-model",
            "default",
            "--adapter",
            adapter,
            "--train-export",
            export,
            "--max-new-tokens",
            EVAL_TOKENS,
            "--out",
            str(OUT / "eval.json"),
        ],
    )
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; everything is in demo/out/")


if __name__ == "__main__":
    main()
