"""Audit throughput vs. the tokenization floor.

Generates N synthetic RAG records (~400 tokens each, one shared system prompt, a few percent
planted failures), then measures:
  floor : load the default tokenizer + batch-tokenize the same texts (nothing else)
  audit : the whole `synthgate audit` library path with every validator and set check on,
          writing into a fresh DuckDB file
and prints both, their ratio (goal: <= 1.5) and peak RSS of each phase, measured in child
processes so the numbers don't contaminate each other.

With `--eval-set-size N` (e.g. 10000) it also generates N synthetic eval questions, plants a few
of them in the records (one in 500 prompts quotes one, one in 500 completions shares 13+ words),
and audits a second time with that eval set (`--eval-set`), so the ratio is shown with and
without contamination checking; the index build is included in the audit time.

Usage: .venv/bin/python benchmarks/audit_throughput.py [--n 100000] [--eval-set-size 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "model adapter gradient quantization context retrieval passage answer layer rank matrix memory "
    "training evaluation dataset token sequence attention weight optimizer schedule warmup batch "
    "precision loss learning rate fine tuning benchmark corpus document paper method result table "
    "figure baseline ablation experiment hidden state projection embedding vocabulary decoder encoder"
).split()
SYSTEM = (
    "You are a research assistant answering questions about machine learning papers. Answer only from "
    "the provided context and cite the paper title. Answer in concise prose paragraphs without markdown "
    "headers or bullet points. If the context does not contain enough information, say so."
)


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def eval_question(rng: random.Random, k: int) -> str:
    # Numbers and names make items as distinct as benchmark questions; the closing instruction is
    # shared by every item, as benchmark boilerplate is.
    return (
        f"Lab {k} trains {rng.randint(2, 900)} adapters. " + sentence(rng, rng.randint(14, 24)) + " "
        f"How many {rng.choice(WORDS)} units remain after run {k}? Give the final answer as a number."
    )


def make_eval_set(path: Path, n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    questions = [eval_question(rng, k) for k in range(n)]
    with path.open("w") as f:
        for q in questions:
            f.write(json.dumps({"question": q}) + "\n")
    return questions


def make_records(path: Path, n: int, seed: int = 0, eval_questions: list[str] | None = None) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            context = " ".join(sentence(rng, rng.randint(10, 20)) for _ in range(12))
            answer = f"Paper {i} reports that " + " ".join(
                sentence(rng, rng.randint(10, 18)) for _ in range(rng.randint(6, 9))
            )
            question = f"what does paper {i} say?"
            if eval_questions and i % 500 == 3:
                question = eval_questions[i % len(eval_questions)]
            elif eval_questions and i % 500 == 251:
                answer += " As the lab put it: " + eval_questions[(i * 7) % len(eval_questions)]
            if i % 50 == 7:
                answer = SYSTEM + " " + answer
            elif i % 50 == 13:
                answer += " Question: what next? Answer: more. " + "Question: Can QLo. 0 " * 12
            elif i % 50 == 21:
                answer = "<think>plan the answer</think>\n\n" + answer
            rec = {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
                    {"role": "assistant", "content": answer},
                ]
            }
            f.write(json.dumps(rec) + "\n")


def _floor(path: str) -> None:
    t0 = time.perf_counter()
    from synthgate.validators.length import default_tokenizer

    tok = default_tokenizer()
    t_load = time.perf_counter() - t0
    backend = tok.backend_tokenizer
    batch: list[str] = []
    tokens = 0
    with open(path) as f:
        for line in f:
            msgs = json.loads(line)["messages"]
            batch.append("\n".join(m["content"] for m in msgs))
            if len(batch) == 1024:
                tokens += sum(len(e) for e in backend.encode_batch_fast(batch, add_special_tokens=False))
                batch = []
    if batch:
        tokens += sum(len(e) for e in backend.encode_batch_fast(batch, add_special_tokens=False))
    total = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": total, "load_seconds": t_load, "tokens": tokens, "peak_rss_mb": rss}))


def _audit(path: str, db: str, eval_set: str | None = None) -> None:
    t0 = time.perf_counter()
    from synthgate.audit.runner import AuditOptions, audit
    from synthgate.store import Store

    options = AuditOptions(eval_sets=(Path(eval_set),) if eval_set else ())
    with Store.open(db) as store:
        result = audit(path, store, options)
    total = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": total,
                "records": result.records,
                "status_counts": result.status_counts,
                "contam_records": sum(n for c, n in result.code_counts.items() if c.startswith("contam.")),
                "peak_rss_mb": rss,
            }
        )
    )


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, text=True, stdout=subprocess.PIPE
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--eval-set-size", type=int, default=0, help="Also audit with an eval set this big.")
    ap.add_argument("--_floor")
    ap.add_argument("--_audit")
    ap.add_argument("--_db")
    ap.add_argument("--_eval")
    args = ap.parse_args()
    if args._floor:
        return _floor(args._floor)
    if args._audit:
        return _audit(args._audit, args._db, args._eval)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.jsonl"
        evals = Path(tmp) / "eval.jsonl"
        t = time.perf_counter()
        questions = make_eval_set(evals, args.eval_set_size) if args.eval_set_size else None
        make_records(data, args.n, eval_questions=questions)
        print(
            f"generated {args.n} records ({data.stat().st_size / 1e6:.0f} MB)"
            f" in {time.perf_counter() - t:.1f}s"
        )
        _child("--_floor", str(data))  # warm the tokenizer cache and the page cache
        floor = _child("--_floor", str(data))
        res = _child("--_audit", str(data), "--_db", str(Path(tmp) / "bench.duckdb"))
        with_eval = None
        if questions:
            db = str(Path(tmp) / "bench-eval.duckdb")
            with_eval = _child("--_audit", str(data), "--_db", db, "--_eval", str(evals))
    per = floor["tokens"] / args.n
    print(
        f"floor  (load tokenizer + tokenize): {floor['seconds']:.1f}s  ({per:.0f} tokens/record, "
        f"peak RSS {floor['peak_rss_mb']:.0f} MB)"
    )
    print(
        f"audit  (all validators + set checks + DuckDB): {res['seconds']:.1f}s  "
        f"({args.n / res['seconds']:.0f} records/s, peak RSS {res['peak_rss_mb']:.0f} MB)"
    )
    print(f"ratio  audit / floor: {res['seconds'] / floor['seconds']:.2f}  (goal <= 1.5)")
    print(f"status {res['status_counts']}")
    if with_eval is not None:
        print(
            f"audit + {args.eval_set_size}-item eval set: {with_eval['seconds']:.1f}s  "
            f"({args.n / with_eval['seconds']:.0f} records/s, peak RSS {with_eval['peak_rss_mb']:.0f} MB, "
            f"{with_eval['contam_records']} records flagged contam.*)"
        )
        ratio = with_eval["seconds"] / floor["seconds"]
        print(f"ratio  audit with eval set / floor: {ratio:.2f}  (goal <= 1.5)")


if __name__ == "__main__":
    main()
