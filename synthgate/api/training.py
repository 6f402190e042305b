"""`train` from Python: `synthgate train EXPORT` with the same options (and its `--plan`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthgate.training.config import TrainConfig
    from synthgate.training.sft import TrainResult

PathLike = str | os.PathLike[str]


def train_config(
    config: PathLike | TrainConfig | None = None,
    *,
    max_steps: int | None = None,
    epochs: float | None = None,
    lr: float | None = None,
    merge: bool | None = None,
    neftune: float | None = None,
    device: str | None = None,
    precision: str | None = None,
    quantization: str | None = None,
    max_length: int | str | None = None,
    batch_size: int | None = None,
    gradient_accumulation_steps: int | None = None,
    gradient_checkpointing: bool | None = None,
    lora_r: int | None = None,
) -> TrainConfig:
    """A TrainConfig from a file (or a TrainConfig, or the defaults) with the command's flags on
    top; a flag left None keeps the config's value. Raises ConfigError naming a bad value."""
    from synthgate.training.config import TrainConfig

    flags: dict[str, Any] = {
        "max_steps": max_steps,
        "num_train_epochs": epochs,
        "learning_rate": lr,
        "merge": merge,
        "neftune_noise_alpha": neftune,
        "device": device,
        "precision": precision,
        "quantization": quantization,
        "max_length": max_length,
        "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "gradient_checkpointing": gradient_checkpointing,
        "lora_r": lora_r,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    if isinstance(config, TrainConfig):
        return TrainConfig.load(None, {**config.model_dump(), **overrides}) if overrides else config
    return TrainConfig.load(config, overrides)


def train(
    export_dir: PathLike,
    out: PathLike,
    *,
    base_model: str = "default",
    config: PathLike | TrainConfig | None = None,
    allow_self_distill: bool = False,
    echo: Callable[[str], None] | None = None,
    **flags: Any,
) -> TrainResult:
    """Train a LoRA adapter on an export's completions only into the new folder `out`, after
    verifying the export's manifest (before any model loads). `base_model` is a model folder, a
    .gguf file or "default" (the embedded Gemma 3 270M). `flags` are `train_config`'s (max_steps,
    epochs, lr, merge, device, precision, quantization, max_length, batch_size, lora_r, ...).
    `echo` receives the resolved setup as lines. Needs the `train` extra (torch, trl, peft)."""
    from synthgate.training.sft import train as run_train

    cfg = train_config(config, **flags)
    return run_train(export_dir, base_model, out, cfg, allow_self_distill=allow_self_distill, echo=echo)


def plan_train(
    export_dir: PathLike,
    *,
    base_model: str = "default",
    config: PathLike | TrainConfig | None = None,
    memory_gb: float | None = None,
    **flags: Any,
) -> list[str]:
    """What `train` would do, as lines (`synthgate train --plan`): the setup, the length budget and
    the estimated peak memory, with `memory_gb` also the largest batch that fits; loads no weights."""
    from synthgate.training.plan import plan_training

    return plan_training(export_dir, base_model, train_config(config, **flags), memory_gib=memory_gb)
