"""`make demo`: run synthgate's main job on the embedded defaults and print each step's result.

1. generate a small RAG set (12 samples) from the notes in demo/docs with the embedded teacher,
   Qwen2.5-Coder-0.5B-Instruct, in-process on the CPU (demo/generate.yaml): every request,
   response, sample and verdict goes into the store; replies that failed the validators or did
   not do their task are kept there as rejects with their reason codes;
2. show the run (kept/rejected by reason, persona x task coverage), 3. freeze its kept samples as
   a version and 4. export it through the gate, which refuses it (exit 1) when the teacher's
   near-duplicate answers pass the default 10% (they do on the 2-core machine: 2 of 12);
5. audit demo/data/poisoned_rag.jsonl, a small RAG set carrying each failure mode the seeds
   describe: exit 1 (blocking findings) is expected, which is the point of the demo; its HTML
   report goes to demo/out/report.html;
6. freeze the poisoned set with its failing records and try to export it: the gate refuses (exit 1)
   and writes nothing;
7. audit demo/data/clean_rag.jsonl, a clean set on the same papers (exit 0);
8. freeze it as a version, 9. export it as TRL prompt/completion JSONL with a manifest,
10. train a LoRA adapter on the embedded Gemma 3 270M for a few steps (a smoke run, not a useful
   model), 11. compare base zero-shot, base few-shot and base + adapter on the shipped eval set.

Everything lands in demo/out/. About 6 minutes on two CPU cores once the models are converted
(the first run converts the teacher and the student, about 3 minutes more).
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
    run = step(
        "1. generate 12 samples from demo/docs with the embedded teacher (CPU, about 3 minutes)",
        ["generate", "demo/generate.yaml", *db],
    )
    step("2. what the run kept and rejected, and its persona x task coverage", ["runs", "show", run, *db])
    generated = step(
        "3. freeze the run's kept samples as a version",
        ["version", "create", "rag-generated", "--source", run, *db],
    )
    step(
        "4. export the generated version through the gate (the run's samples are a dataset with set "
        "checks: when the 0.5B teacher's near-duplicate answers pass 10% of the set, the gate refuses "
        "with exit 1 and writes nothing, as it did on our machine: 2 of 12)",
        ["export", generated, "--format", "trl-jsonl", "--out", str(OUT / "generated-export"), *db],
        ok_codes=(0, 1),
    )
    poisoned = step(
        "5. audit a poisoned RAG dataset (exit 1 expected: it has blocking findings)",
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
            "--html",
            str(OUT / "report.html"),
        ],
        ok_codes=(1,),
    )
    print(f"\nstored dataset: {poisoned}; per-record report: demo/out/report.jsonl")
    print(f"HTML report of this audit (open it in a browser): {OUT / 'report.html'}")

    poisoned_version = step(
        "6a. freeze the poisoned set, failing records included",
        ["version", "create", "rag-poisoned", "--source", poisoned, "--include", "pass,fixed,fail", *db],
    )
    step(
        "6b. try to export it (exit 1 expected: the gate refuses and writes nothing)",
        ["export", poisoned_version, "--out", str(OUT / "poisoned-export"), *db],
        ok_codes=(1,),
    )
    assert not (OUT / "poisoned-export").exists(), "a refused export must leave no folder"

    clean = step(
        "7. audit a clean RAG dataset on the same papers",
        ["audit", "demo/data/clean_rag.jsonl", *db, "--max-length", "512"],
    )
    version = step(
        "8. freeze it as an immutable version", ["version", "create", "rag-clean", "--source", clean, *db]
    )
    export = step(
        "9. export it for training (the gate passes; manifest.json records every file's sha256)",
        ["export", version, "--format", "trl-jsonl", "--out", str(OUT / "export"), *db],
    )
    adapter = step(
        f"10. train a LoRA adapter on the embedded Gemma 3 270M ({TRAIN_STEPS} steps: a smoke run)",
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
        "11. compare base zero-shot, base few-shot and base + adapter on the shipped eval set",
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
