"""Seconds per LoRA training step and peak memory on CPU, default base model, per max_length.

For each max_length (default 512 and 2048) a child process writes a synthetic trl-jsonl export
whose records fill that length (prompt about 60%, completion about 40% of the tokens, measured
with the embedded tokenizer through its chat template), then runs `synthgate.training.sft.train`
with the default TrainConfig except max_steps, the batch size and no eval split. A callback
times every optimizer step (forward, backward, optimizer); the first step is warm-up and left
out of the median. Peak RSS is the child's whole life: model load, data preparation and training.

The default batch of 4 at 2048 tokens needs about 4 x 2048 x 262k vocabulary x 4 bytes = 8.6 GB
for the logits alone, more than twice that with their gradients: on a 24 GB machine pass
--batch-size 1 for that length (the default here); tokens/s makes the two comparable.

Each line ends with the `synthgate train --plan` estimate for the same setting
(synthgate.training.plan), so the estimator is checked against every measurement.

Usage: .venv/bin/python benchmarks/train_step.py [--lengths 512,2048] [--batch-sizes 4,1] [--steps 4]
"""

from __future__ import annotations

import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")  # before torch loads: see DEVELOPERS.md

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

WORDS = (
    "model adapter gradient quantization context retrieval passage answer layer rank matrix memory "
    "training evaluation dataset token sequence attention weight optimizer schedule warmup batch"
).split()


def _text(rng: random.Random, tokenizer, tokens: int) -> str:
    words: list[str] = []
    while len(tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]) < tokens:
        words += [rng.choice(WORDS) for _ in range(max(8, (tokens - len(words)) // 2))]
    return " ".join(words)


def write_export(folder: Path, max_length: int, records: int) -> None:
    from synthgate.models.embedded import load_tokenizer
    from synthgate.training.manifest import TRAIN_FILE, GateReport, Manifest, describe_file, write_manifest

    tokenizer = load_tokenizer(None)
    rng = random.Random(0)
    folder.mkdir(parents=True)
    overhead = 24  # chat template tokens around the turns
    with (folder / TRAIN_FILE).open("w") as f:
        for i in range(records):
            prompt = _text(rng, tokenizer, int((max_length - overhead) * 0.6))
            completion = _text(rng, tokenizer, int((max_length - overhead) * 0.4))
            record = {
                "prompt": [{"role": "user", "content": f"Record {i}. {prompt}"}],
                "completion": [{"role": "assistant", "content": completion}],
            }
            f.write(json.dumps(record) + "\n")
    manifest = Manifest(
        synthgate_version="bench",
        version_id="v_bench",
        created_at=datetime.now(UTC),
        gate=GateReport(passed=True, policy={"require_completion_only": True}),
        chain_config={},
        counts={"train": records},
        tokenizer="default",
        max_length=max_length,
        teacher_models=[],
        files={TRAIN_FILE: describe_file(folder / TRAIN_FILE)},
    )
    write_manifest(folder, manifest)


def _child(max_length: int, batch_size: int, steps: int) -> None:
    from transformers import TrainerCallback
    from trl import SFTTrainer

    from synthgate.training.config import TrainConfig
    from synthgate.training.sft import train

    step_seconds: list[float] = []
    tokens: list[int] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            step_seconds.append(time.perf_counter() - self.t)

    original_train = SFTTrainer.train

    def train_with_timer(self, *a, **k):
        self.add_callback(StepTimer())
        first = next(iter(self.get_train_dataloader()))
        tokens.append(int(first["attention_mask"].sum()))
        return original_train(self, *a, **k)

    SFTTrainer.train = train_with_timer
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export"
        write_export(export, max_length, records=batch_size * steps)
        config = TrainConfig(max_steps=steps, per_device_train_batch_size=batch_size, logging_steps=steps)
        started = time.perf_counter()
        train(export, None, Path(tmp) / "out", config)
        total = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steady = step_seconds[1:] or step_seconds
    print(
        json.dumps(
            {
                "max_length": max_length,
                "batch_size": batch_size,
                "tokens_per_batch": tokens[0],
                "step_seconds": step_seconds,
                "median_step_s": statistics.median(steady),
                "run_seconds": total,
                "peak_rss_mb": rss,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="512,2048")
    ap.add_argument("--batch-sizes", default="4,1", help="One per length (default: the trainer's 4, then 1).")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--_child", nargs=3, type=int)
    args = ap.parse_args()
    if args._child:
        return _child(*args._child)
    lengths = [int(x) for x in args.lengths.split(",")]
    batches = [int(x) for x in args.batch_sizes.split(",")]
    from synthgate.training.plan import GIB, estimate, read_shape

    shape = read_shape(None)
    threads = os.environ.get("OMP_NUM_THREADS") or os.cpu_count()
    print(f"embedded Gemma 3 270M, LoRA r=16 all-linear, fp32 on CPU ({threads} threads), {args.steps} steps")
    for length, batch in zip(lengths, batches, strict=True):
        out = subprocess.run(
            [sys.executable, __file__, "--_child", str(length), str(batch), str(args.steps)],
            check=True,
            text=True,
            stdout=subprocess.PIPE,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        steps = ", ".join(f"{s:.1f}" for s in r["step_seconds"])
        planned = estimate(shape, lora_r=16, batch=batch, max_length=length, precision="fp32", device="cpu")
        print(
            f"max_length {length:>5}  batch {batch}  {r['tokens_per_batch']:>5} tokens/batch  "
            f"{r['median_step_s']:6.1f} s/step (median after warm-up; steps: {steps})  "
            f"{r['tokens_per_batch'] / r['median_step_s']:6.0f} tokens/s  "
            f"peak RSS {r['peak_rss_mb'] / 1024:.1f} GiB (--plan estimate {planned.total / GIB:.1f} GiB)  "
            f"whole run {r['run_seconds']:.0f} s"
        )


if __name__ == "__main__":
    main()
