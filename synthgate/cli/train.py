"""`synthgate train`: completion-only LoRA SFT on a verified export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthgate import api
from synthgate.api.training import plan_train, train_config
from synthgate.cli.common import console, handle_errors, print_id
from synthgate.errors import ConfigError


@handle_errors
def train(
    export_dir: Annotated[Path, typer.Argument(help="Export folder written by `synthgate export`.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="New (or empty) folder for the adapter and its files (not with --plan)."),
    ] = None,
    base_model: Annotated[
        str,
        typer.Option(
            "--base-model", help="Model folder, .gguf file, or 'default' (the embedded Gemma 3 270M)."
        ),
    ] = "default",
    config: Annotated[
        Path | None, typer.Option("--config", help="Training config YAML/JSON (TrainConfig keys).")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Stop after N optimizer steps (smoke runs).")
    ] = None,
    epochs: Annotated[float | None, typer.Option("--epochs", help="Passes over the train split.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    merge: Annotated[
        bool | None,
        typer.Option(
            "--merge/--no-merge", help="Also write merged/: the base model with the adapter folded in."
        ),
    ] = None,
    allow_self_distill: Annotated[
        bool,
        typer.Option(
            "--allow-self-distill", help="Allow a base model that generated this data (the teacher)."
        ),
    ] = False,
    neftune: Annotated[
        float | None, typer.Option("--neftune", help="NEFTune embedding noise alpha (off unless given).")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="auto (CUDA when present, else CPU), cpu or cuda.")
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            help="auto (bf16 where the GPU supports it, else fp16; fp32 on CPU), fp32, bf16, fp16.",
        ),
    ] = None,
    quantization: Annotated[
        str | None,
        typer.Option(
            "--quantization", help="QLoRA: 4bit (NF4) or 8bit base weights via bitsandbytes (CUDA GPU only)."
        ),
    ] = None,
    max_length: Annotated[
        str | None,
        typer.Option(
            "--max-length",
            help="Token budget: N, or auto (the smallest multiple of 64 holding every record); "
            "default: the manifest's.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Training records per step and device.")
    ] = None,
    grad_accum: Annotated[
        int | None,
        typer.Option("--gradient-accumulation-steps", help="Micro-batches per optimizer step."),
    ] = None,
    checkpointing: Annotated[
        bool | None,
        typer.Option(
            "--gradient-checkpointing/--no-gradient-checkpointing",
            help="Recompute activations in the backward pass to save memory.",
        ),
    ] = None,
    lora_r: Annotated[int | None, typer.Option("--lora-r", help="LoRA rank.")] = None,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan", help="Print the setup and estimated peak memory without loading weights; no training."
        ),
    ] = False,
    memory_gb: Annotated[
        float | None,
        typer.Option(
            "--memory-gb", help="With --plan: memory to fit (GiB; a '16 GB' GPU), prints the largest batch."
        ),
    ] = None,
) -> None:
    """Train a LoRA adapter on an export's completions only, after verifying its manifest.

    The manifest is checked before any model is loaded: a missing manifest, an edited file or a
    failed gate exits 2. Defaults (LoRA r=16, alpha=32, dropout 0.05 on all linear layers, lr 5e-5,
    2 epochs, cosine with 5% warmup, seed 42, best checkpoint by eval loss) come from the config
    file and are overridden by flags. Prints the output folder last.

    Device and precision are picked automatically (CUDA with bf16 or fp16, else CPU fp32) and
    written to training_config.json; --quantization 4bit trains QLoRA on a GPU. --plan prints the
    estimated peak memory (and with --memory-gb the largest batch that fits) without training.

    Example:
        synthgate train exports/rag-sft --base-model default --out runs/rag-lora --max-steps 4
        synthgate train exports/rag-sft --base-model /models/llama-8b --quantization 4bit --plan \\
            --memory-gb 16
    """
    # A bad value is reported before any other problem.
    cfg = train_config(
        config,
        max_steps=max_steps,
        epochs=epochs,
        lr=lr,
        merge=merge,
        neftune=neftune,
        device=device,
        precision=precision,
        quantization=quantization,
        max_length=max_length,
        batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        gradient_checkpointing=checkpointing,
        lora_r=lora_r,
    )
    if memory_gb is not None and not plan:
        raise ConfigError("--memory-gb only applies with --plan", hint="Add --plan, or drop --memory-gb.")
    if plan:
        for line in plan_train(export_dir, base_model=base_model, config=cfg, memory_gb=memory_gb):
            console.print(line, markup=False)
        return
    if out is None:
        raise ConfigError("--out is required to train", hint="Pass --out with a new folder, or --plan.")
    result = api.train(
        export_dir,
        out,
        base_model=base_model,
        config=cfg,
        allow_self_distill=allow_self_distill,
        echo=lambda line: console.print(line, markup=False),
    )
    eval_loss = "-" if result.eval_loss is None else f"{result.eval_loss:.4f}"
    console.print(
        f"trained {result.steps} steps in {result.seconds:.0f} s: train loss {result.train_loss:.4f}, "
        f"eval loss {eval_loss}"
    )
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in result.out_dir.iterdir())
    console.print(f"  wrote {', '.join(written)}", markup=False)
    print_id(str(result.out_dir))
