"""`TrainConfig`: LoRA SFT hyperparameters, strict, with defaults from practice for small students."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthgate.config import load_mapping, validation_message
from synthgate.errors import ConfigError
from synthgate.training.device import DeviceChoice, PrecisionChoice, Quantization


class TrainConfig(BaseModel):
    """LoRA SFT settings. Load from YAML/JSON with `TrainConfig.load(path, overrides)`."""

    model_config = ConfigDict(extra="forbid")

    # LoRA
    lora_r: int = Field(default=16, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(default=32, gt=0, description="LoRA scaling alpha (update scale alpha/r).")
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: str | list[str] = Field(
        default="all-linear",
        description="Modules that get adapters: 'all-linear' (every linear layer but the head) or names.",
    )

    # Optimisation
    learning_rate: float = Field(default=5e-5, gt=0, description="Peak learning rate (AdamW).")
    num_train_epochs: float = Field(default=2.0, gt=0, description="Passes over train.jsonl.")
    max_steps: int = Field(
        default=-1, description="Stop after this many optimizer steps (overrides epochs); -1 = off."
    )
    lr_scheduler_type: str = Field(default="cosine", description="transformers scheduler name.")
    warmup_ratio: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="Fraction of steps spent warming up."
    )
    per_device_train_batch_size: int = Field(
        default=4, gt=0, description="Training records per step and device."
    )
    per_device_eval_batch_size: int = Field(default=4, gt=0, description="Eval records per forward pass.")
    gradient_accumulation_steps: int = Field(
        default=1, gt=0, description="Micro-batches per optimizer step (effective batch = batch x this)."
    )
    gradient_checkpointing: bool = Field(
        default=False,
        description="Recompute activations in the backward pass to save memory (~30% slower; rarely needed "
        "below 1B, usual for QLoRA of 7B+).",
    )
    neftune_noise_alpha: float | None = Field(
        default=None, gt=0, description="NEFTune embedding noise; None = off."
    )
    seed: int = Field(default=42, description="Seed for LoRA init, shuffling and dropout.")

    # Evaluation and checkpoints
    eval_strategy: Literal["steps", "epoch"] = Field(
        default="epoch", description="When to evaluate on eval.jsonl (checkpoints follow the same schedule)."
    )
    eval_steps: int | None = Field(
        default=None, gt=0, description="Steps between evaluations; required with eval_strategy 'steps'."
    )
    load_best_model_at_end: bool = Field(
        default=True, description="Keep the checkpoint with the lowest eval_loss, not the last one."
    )
    logging_steps: int = Field(default=10, gt=0, description="Steps between loss log lines.")

    # Device and precision (resolved by synthgate.training.device before anything loads)
    device: DeviceChoice = Field(
        default="auto", description="auto (CUDA when torch sees a GPU, else CPU), cpu or cuda."
    )
    precision: PrecisionChoice = Field(
        default="auto",
        description="auto (bf16 on GPUs that support it, else fp16 with loss scaling; fp32 on CPU), fp32, "
        "bf16 or fp16.",
    )
    quantization: Quantization | None = Field(
        default=None,
        description="QLoRA: load the base in 4bit (NF4, double quantization) or 8bit with bitsandbytes "
        "(needs a CUDA GPU and the qlora extra); None = unquantized.",
    )

    # Data and loss
    max_length: int | Literal["auto"] | None = Field(
        default=None,
        description="Token budget per record: a number, 'auto' (the smallest multiple of 64 holding every "
        "record, measured through the chat template), or None = the export manifest's max_length.",
    )
    completion_only_loss: bool = Field(
        default=True,
        description="Train on completion tokens only. Cannot be turned off when the gate policy requires it.",
    )

    # Outputs
    merge: bool = Field(
        default=False, description="Also write merged/: the base model with the adapter folded in."
    )

    @model_validator(mode="after")
    def _check_schedule(self) -> TrainConfig:
        if isinstance(self.max_length, int) and self.max_length <= 0:
            raise ValueError(f"max_length must be positive or 'auto', got {self.max_length}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (off) or a positive number, got {self.max_steps}")
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy 'steps' needs eval_steps")
        return self

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> TrainConfig:
        """A TrainConfig from an optional YAML/JSON file, with `overrides` applied on top.

        >>> TrainConfig.load(overrides={"max_steps": 2}).max_steps
        2
        """
        file = Path(path) if path is not None else None
        data = load_mapping(file) if file is not None else {}
        data.update(overrides or {})
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise ConfigError(validation_message(file or Path("<overrides>"), err)) from None
