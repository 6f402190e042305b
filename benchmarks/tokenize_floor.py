"""The tokenization floor: load the default tokenizer, then batch-tokenize N generated records.

Every audit tokenizes each record once, so this is the time no audit can beat; the audit
throughput goal (benchmarks/audit_throughput.py) is stated as a ratio to it. Also times the
length validator on the same records, rendered through the chat template.

Usage: .venv/bin/python benchmarks/tokenize_floor.py [--n 20000] [--batch 1024]
"""

from __future__ import annotations

import argparse
import random
import time

WORDS = (
    "model adapter gradient quantization context retrieval passage answer layer rank matrix memory "
    "training evaluation dataset token sequence attention weight optimizer schedule warmup batch "
    "precision loss learning rate fine tuning benchmark corpus document paper method result table"
).split()
SYSTEM = (
    "You are a research assistant answering questions about machine learning papers. Answer only from "
    "the provided context and cite the paper title. If the context is not enough, say so."
)


def make_records(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(system, user, completion) triples of ~400 tokens each."""
    rng = random.Random(seed)

    def sentence(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + "."

    out = []
    for i in range(n):
        context = " ".join(sentence(rng.randint(10, 20)) for _ in range(14))
        answer = " ".join(sentence(rng.randint(10, 18)) for _ in range(8))
        out.append((SYSTEM, f"Context:\n{context}\n\nQuestion: what does paper {i} say?", answer))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="records to tokenize")
    ap.add_argument("--batch", type=int, default=1024, help="records per encode_batch call")
    args = ap.parse_args()
    records = make_records(args.n)

    t0 = time.perf_counter()
    from synthgate.validators.length import default_tokenizer

    tok = default_tokenizer()
    load_s = time.perf_counter() - t0
    print(f"load default tokenizer: {load_s:.2f}s")

    backend = tok.backend_tokenizer
    texts = ["\n".join(r) for r in records]
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(texts), args.batch):
        tokens += sum(
            len(e) for e in backend.encode_batch_fast(texts[i : i + args.batch], add_special_tokens=False)
        )
    tok_s = time.perf_counter() - t0
    print(
        f"tokenize {args.n} records ({tokens / args.n:.0f} tokens each): {tok_s:.2f}s  "
        f"{args.n / tok_s:,.0f} records/s  {tok_s / args.n * 1e6:.0f} us/record"
    )

    from synthgate.schemas.chain_config import LengthConfig
    from synthgate.schemas.sample import Message, Sample
    from synthgate.validators.length import LengthValidator

    samples = [
        Sample(system_prompt=s, prompt=[Message(role="user", content=u)], completion=c) for s, u, c in records
    ]
    validator = LengthValidator(LengthConfig(), tokenizer=tok)
    t0 = time.perf_counter()
    for i in range(0, len(samples), args.batch):
        validator.check_batch(samples[i : i + args.batch])
    val_s = time.perf_counter() - t0
    print(
        f"length validator (render + tokenize): {val_s:.2f}s  {args.n / val_s:,.0f} records/s  "
        f"{val_s / args.n * 1e6:.0f} us/record  ({val_s / tok_s:.2f}x the floor)"
    )


if __name__ == "__main__":
    main()
