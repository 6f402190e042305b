"""`synthgate train`: completion-only LoRA SFT on a verified export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from synthgate.cli.common import console, handle_errors, print_id
from synthgate.training.config import TrainConfig
from synthgate.training.sft import train as run_train


@handle_errors
def train(
    export_dir: Annotated[Path, typer.Argument(help="Export folder written by `synthgate export`.")],
    out: Annotated[Path, typer.Option("--out", help="New (or empty) folder for the adapter and its files.")],
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
) -> None:
    """Train a LoRA adapter on an export's completions only, after verifying its manifest.

    The manifest is checked before any model is loaded: a missing manifest, an edited file or a
    failed gate exits 2. Defaults (LoRA r=16, alpha=32, dropout 0.05 on all linear layers, lr 5e-5,
    2 epochs, cosine with 5% warmup, seed 42, best checkpoint by eval loss) come from the config
    file and are overridden by flags. Prints the output folder last.

    Example:
        synthgate train exports/rag-sft --base-model default --out runs/rag-lora --max-steps 4
    """
    flags: dict[str, Any] = {
        "max_steps": max_steps,
        "num_train_epochs": epochs,
        "learning_rate": lr,
        "merge": merge,
        "neftune_noise_alpha": neftune,
    }
    cfg = TrainConfig.load(config, {k: v for k, v in flags.items() if v is not None})
    result = run_train(export_dir, base_model, out, cfg, allow_self_distill=allow_self_distill)
    eval_loss = "-" if result.eval_loss is None else f"{result.eval_loss:.4f}"
    console.print(
        f"trained {result.steps} steps in {result.seconds:.0f} s: train loss {result.train_loss:.4f}, "
        f"eval loss {eval_loss}"
    )
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in result.out_dir.iterdir())
    console.print(f"  wrote {', '.join(written)}", markup=False)
    print_id(str(result.out_dir))
