"""LoRA SFT of a student model on a verified export, completions only, checked before the first step.

`train` refuses before loading any model when the export does not match its manifest, the gate
failed, the config would train on prompts the policy protects, or the student is the teacher.
Before the first optimizer step it takes a real collated batch from the trainer's dataloader and
checks its labels against prompt lengths measured independently of TRL (`check_label_mask`).
The device, precision and quantization are resolved first (`synthgate.training.device`), and
`max_length: auto` is measured from the export with the model's tokenizer (`training.budget`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgate.errors import ConfigError, GateRefused, InputError, SynthgateError
from synthgate.models.embedded import DEFAULT_SPECS, EMBEDDED_NAME, PLAIN_CHAT_TEMPLATE, load_tokenizer
from synthgate.models.names import model_key
from synthgate.models.student import load_causal_lm
from synthgate.training.budget import measure_records
from synthgate.training.config import TrainConfig
from synthgate.training.device import (
    Capabilities,
    Setup,
    detect_capabilities,
    model_load_kwargs,
    resolve_setup,
    trainer_precision_args,
)
from synthgate.training.manifest import EVAL_FILE, MANIFEST_NAME, TRAIN_FILE, Manifest, verify_export

# oneDNN's AMX kernels die with "Illegal instruction" on some Xeons; cap the ISA before torch
# starts (a no-op when the caller already set it, or imported torch first).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
LOG_HISTORY_NAME = "log_history.json"
# Export format -> (train file, eval file) the trainer reads; hf-dataset exports are not read.
_SPLIT_FILES = {"trl-jsonl": (TRAIN_FILE, EVAL_FILE), "parquet": ("train.parquet", "eval.parquet")}
_EMBEDDED_ALIASES = (EMBEDDED_NAME, f"google/{EMBEDDED_NAME}", "gemma3:270m")


class LabelMaskError(SynthgateError):
    """A collated batch would train on tokens outside the completion, or on none of it."""

    hint = (
        "Training was stopped before the first step. Check the chat template (the prompt must render "
        "the same alone as in front of its completion) and that completion_only_loss is on."
    )


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced: where, how many optimizer steps, final losses, wall time."""

    out_dir: Path
    steps: int
    train_loss: float
    eval_loss: float | None
    seconds: float


def check_label_mask(batch: Mapping[str, Any], prompt_lengths: Sequence[int]) -> None:
    """Raise LabelMaskError unless every row trains on its completion and nothing else.

    Row i's first `prompt_lengths[i]` attended tokens are its prompt: their labels must be -100;
    the rest of its attended tokens are the completion: labels equal to `input_ids` there (the
    model shifts them); padding (attention_mask 0) must be -100. Measure `prompt_lengths` apart
    from the code that built the labels, so full-sequence labels cannot pass.

    >>> import torch
    >>> batch = {"input_ids": torch.tensor([[2, 10, 11, 12, 1, 0]]),
    ...          "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 0]]),
    ...          "labels": torch.tensor([[-100, -100, -100, 12, 1, -100]])}
    >>> check_label_mask(batch, [3])
    >>> check_label_mask({**batch, "labels": batch["input_ids"]}, [3])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    synthgate.training.sft.LabelMaskError: row 0: 3 prompt token(s) carry labels (first at position 0); ...
    """
    import torch

    input_ids, labels = batch["input_ids"], batch["labels"]
    attention = batch.get("attention_mask")
    if attention is None:
        attention = torch.ones_like(input_ids)
    if len(prompt_lengths) != input_ids.shape[0]:
        raise ValueError(f"{len(prompt_lengths)} prompt lengths for a batch of {input_ids.shape[0]} rows")
    problems = []
    for row, prompt_len in enumerate(prompt_lengths):
        ids, lab = input_ids[row], labels[row]
        attended = attention[row].bool()
        positions = attended.nonzero().flatten()
        prompt_pos, completion_pos = positions[:prompt_len], positions[prompt_len:]
        padding_pos = (~attended).nonzero().flatten()
        found = []
        leaked = prompt_pos[lab[prompt_pos] != IGNORE_INDEX]
        if len(leaked):
            found.append(f"{len(leaked)} prompt token(s) carry labels (first at position {int(leaked[0])})")
        if not len(completion_pos):
            found.append("no completion tokens (the prompt fills the sequence)")
        missed = completion_pos[lab[completion_pos] != ids[completion_pos]]
        if len(missed):
            found.append(
                f"{len(missed)} of {len(completion_pos)} completion token(s) are masked or mislabelled "
                f"(first at position {int(missed[0])})"
            )
        padded = padding_pos[lab[padding_pos] != IGNORE_INDEX]
        if len(padded):
            found.append(f"{len(padded)} padding token(s) carry labels")
        if found:
            problems.append(f"row {row}: " + "; ".join(found))
    if problems:
        raise LabelMaskError("\n".join(problems))


def train(
    export_dir: str | os.PathLike[str],
    base_model: str | None,
    out_dir: str | os.PathLike[str],
    config: TrainConfig,
    allow_self_distill: bool = False,
    *,
    capabilities: Capabilities | None = None,
    echo: Callable[[str], None] | None = None,
) -> TrainResult:
    """LoRA-train `base_model` (None = embedded Gemma 3 270M) on a verified export into `out_dir`.

    Writes the adapter (adapter_model.safetensors, adapter_config.json), the tokenizer files,
    training_config.json (the resolved TrainConfig: device, precision and max_length as run;
    loadable with TrainConfig.load), a copy of manifest.json, and with `config.merge` also merged/
    (a full model with tokenizer; a quantized run merges into the base reloaded in 16-bit).
    `capabilities` defaults to this machine's (`detect_capabilities`); `echo` receives the
    resolved setup as lines for humans before the model loads (default: the log).
    """
    started = time.perf_counter()
    say = echo or log.info
    export, out = Path(export_dir), Path(out_dir)
    # Everything that can refuse runs before a model is loaded: refusing should cost seconds.
    manifest = verify_export(export)
    train_file, eval_file = split_files(manifest, export)
    _check_policy(manifest, base_model, config, allow_self_distill)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(
            f"{out} is not empty", hint="Pass a new output folder; runs never overwrite each other."
        )
    setup = resolve_setup(
        config.device, config.precision, config.quantization, capabilities or detect_capabilities()
    )
    train_rows = read_split(export / train_file)
    has_eval = eval_file in manifest.files and manifest.files[eval_file].records > 0
    eval_rows = read_split(export / eval_file) if has_eval else []
    max_length = config.max_length or manifest.max_length
    main_process = os.environ.get("RANK", "0") == "0"  # under accelerate launch, one process speaks
    lines = [setup.describe()]
    if max_length == "auto":
        # The tokenizer alone (no weights): the same one the model loads with below.
        budget = measure_records(train_rows + eval_rows, load_tokenizer(base_model))
        max_length = budget.max_length
        lines += budget.describe()
    note = merge_message(setup) if config.merge else None
    if note:
        lines.append(note)
    for line in lines if main_process else []:
        say(line)
    resolved = config.model_copy(
        update={"max_length": max_length, "device": setup.device, "precision": setup.precision}
    )

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    model, tokenizer = load_causal_lm(base_model, **model_load_kwargs(setup, local_rank))
    if setup.quantization:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=resolved.gradient_checkpointing
        )
    if tokenizer.chat_template is None:
        # The data is conversational: a template-less tokenizer gets synthgate's plain layout,
        # saved with the adapter so inference renders prompts the same way.
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    trainer = build_trainer(model, tokenizer, train_rows, eval_rows, resolved, setup, out / "checkpoints")
    if resolved.completion_only_loss:
        batch = next(iter(trainer.get_train_dataloader()))
        check_label_mask(batch, _reference_prompt_lengths(batch, trainer.train_dataset, tokenizer))

    output = trainer.train()
    eval_loss = trainer.state.best_metric if eval_rows else None
    if eval_rows and eval_loss is None:  # max_steps ended the run before the first scheduled eval
        eval_loss = trainer.evaluate()["eval_loss"]
    if trainer.is_world_process_zero():
        _save_outputs(trainer.model, tokenizer, resolved, export, out)
        write_log_history(trainer.state.log_history, out)
        if resolved.merge:
            if setup.quantization:
                merge_into_16bit_base(base_model, setup, tokenizer, out)
            else:
                _merge(trainer.model, tokenizer, out)
    return TrainResult(
        out_dir=out,
        steps=trainer.state.global_step,
        train_loss=float(output.training_loss),
        eval_loss=None if eval_loss is None else float(eval_loss),
        seconds=time.perf_counter() - started,
    )


def merge_message(setup: Setup) -> str | None:
    """What `--merge` will do differently for `setup`: None unless the base is quantized.

    >>> merge_message(Setup("cuda", "bf16", "4bit"))  # doctest: +ELLIPSIS
    'merge: the base trains in 4bit, so merged/ is written from the base reloaded in bf16 on the CPU...'
    """
    if setup.quantization is None:
        return None
    dtype = merge_dtype(setup)
    return (
        f"merge: the base trains in {setup.quantization}, so merged/ is written from the base reloaded in "
        f"{dtype} on the CPU with the adapter folded in (folding it into {setup.quantization} weights would "
        f"round it away); needs RAM for the {dtype} model"
    )


def merge_dtype(setup: Setup) -> str:
    """The 16-bit dtype a quantized run's base is reloaded in for merging: fp16 on fp16 GPUs, else bf16."""
    return "fp16" if setup.precision == "fp16" else "bf16"


# --- refusals -----------------------------------------------------------------------------


def _check_policy(
    manifest: Manifest, base_model: str | None, config: TrainConfig, allow_self_distill: bool
) -> None:
    if manifest.requires_completion_only and not config.completion_only_loss:
        raise GateRefused(
            f"the gate policy of version {manifest.version_id} requires completion-only loss, "
            "but the training config sets completion_only_loss: false",
            hint="Remove completion_only_loss: false from the training config.",
        )
    if allow_self_distill:
        return
    names = _EMBEDDED_ALIASES if base_model in DEFAULT_SPECS else (str(base_model),)
    ours = {model_key(n) for n in names}
    same = [t for t in manifest.teacher_models if model_key(t) in ours]
    if same:
        raise GateRefused(
            f"base model {base_model or 'default (' + EMBEDDED_NAME + ')'!r} is a teacher that generated "
            f"this data ({', '.join(same)}): training a model on its own outputs (self-distillation) is "
            "refused unless allow_self_distill is set",
            hint="Pick a different base model, or pass allow_self_distill=True (--allow-self-distill).",
        )


def split_files(manifest: Manifest, export: Path) -> tuple[str, str]:
    """(train file, eval file) of an export the trainer can read; InputError for other formats."""
    files = _SPLIT_FILES.get(manifest.format)
    if files is None:
        raise InputError(
            f"the export is in {manifest.format} format: training reads {' or '.join(_SPLIT_FILES)} exports",
            path=str(export),
            hint="Export the version again with --format trl-jsonl.",
        )
    if files[0] not in manifest.files:
        raise InputError(
            f"the export holds no {files[0]}: training reads the {manifest.format} export format",
            path=str(export),
            hint="Export the version again with --format trl-jsonl.",
        )
    return files


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(record number, record) of a JSONL or Parquet split, numbered from 1."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from enumerate(pq.read_table(path).to_pylist(), 1)
        return
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"not valid JSON: {err.msg}", path=str(path), record=number) from None


def read_split(path: Path) -> list[dict[str, Any]]:
    """The conversational prompt/completion records of one export split (JSONL or Parquet)."""
    rows = []
    for number, record in _records(path):
        prompt, completion = record.get("prompt"), record.get("completion")
        if not (isinstance(prompt, list) and prompt and isinstance(completion, list) and completion):
            raise InputError(
                "needs conversational 'prompt' and 'completion' lists of messages",
                path=str(path),
                record=number,
                field="prompt" if not isinstance(prompt, list) or not prompt else "completion",
            )
        rows.append({"prompt": prompt, "completion": completion})
    if not rows and path.stem == "train":
        raise InputError("holds no records to train on", path=str(path))
    return rows


# --- trainer ------------------------------------------------------------------------------


def build_trainer(
    model: Any,
    tokenizer: Any,
    train_rows: list[dict],
    eval_rows: list[dict],
    cfg: TrainConfig,
    setup: Setup,
    ckpt: Path,
) -> Any:
    """TRL's SFTTrainer with a LoRA config for `cfg`: what `train` runs, without its refusals.

    Public for experiments that must train the same way on data the gate would refuse
    (benchmarks/outcome.py trains its raw-set arms with it); products train through `train`.
    """
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    with_eval = bool(eval_rows)
    strategy = cfg.eval_strategy if with_eval else "no"
    args = SFTConfig(
        output_dir=str(ckpt),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float below 1 is a ratio (warmup_ratio is gone)
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        # TRL 1.16 turns the deprecated gradient_checkpointing alias on by default; the new name wins.
        activation_checkpointing=cfg.gradient_checkpointing,
        neftune_noise_alpha=cfg.neftune_noise_alpha,
        seed=cfg.seed,
        eval_strategy=strategy,
        eval_steps=cfg.eval_steps,
        save_strategy=strategy,
        save_steps=cfg.eval_steps,
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=with_eval and cfg.load_best_model_at_end,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=cfg.logging_steps,
        max_length=cfg.max_length,
        completion_only_loss=cfg.completion_only_loss,
        **trainer_precision_args(setup),
        report_to="none",
    )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if with_eval else None,
        processing_class=tokenizer,
        peft_config=lora,
    )


def _reference_prompt_lengths(batch: Mapping[str, Any], dataset: Any, tokenizer: Any) -> list[int]:
    """Each batch row's prompt length, re-tokenized from its record's prompt apart from TRL."""
    mask = batch.get("attention_mask")
    rows = [
        (ids if mask is None else ids[mask[i].bool()]).tolist() for i, ids in enumerate(batch["input_ids"])
    ]
    lengths = []
    for row, (tokens, index) in enumerate(zip(rows, _find_rows(dataset, rows), strict=True)):
        if index is None:
            raise LabelMaskError(f"row {row} of the first batch matches no prepared training record")
        text = tokenizer.apply_chat_template(
            dataset[index]["prompt"], tokenize=False, add_generation_prompt=True
        )
        prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        shared = 0
        for a, b in zip(prompt_ids, tokens, strict=False):
            if a != b:
                break
            shared += 1
        # One token of slack: a prompt ending mid-word may merge with the completion's first token,
        # and that token rightly carries a label. More means the template renders the prompt
        # differently alone than in training, so the boundary is unknown.
        if len(prompt_ids) - shared > 1:
            raise LabelMaskError(
                f"row {row}: the prompt alone tokenizes to {len(prompt_ids)} tokens but only the first "
                f"{shared} begin the training sequence: the chat template renders prompts differently "
                "in training than at inference"
            )
        lengths.append(shared)
    return lengths


def _find_rows(dataset: Any, rows: list[list[int]]) -> list[int | None]:
    """Indices in the prepared dataset holding exactly these token rows (None when absent)."""
    import numpy as np
    import pyarrow.compute as pc

    found: list[int | None] = [None] * len(rows)
    offset = 0
    # Arrow lengths first: only rows of the right length are compared, so this stays cheap on
    # large sets without tokenizing or materialising them.
    for table in dataset.select_columns(["input_ids"]).with_format("arrow").iter(batch_size=4096):
        column = table.column("input_ids")
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        for k, tokens in enumerate(rows):
            if found[k] is None:
                for j in np.flatnonzero(lengths == len(tokens)):
                    if column[int(j)].as_py() == tokens:
                        found[k] = offset + int(j)
                        break
        offset += table.num_rows
        if all(f is not None for f in found):
            break
    return found


def _save_outputs(model: Any, tokenizer: Any, cfg: TrainConfig, export: Path, out: Path) -> None:
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))  # a merged model or adapter without them breaks GGUF conversion
    (out / "training_config.json").write_text(cfg.model_dump_json(indent=2) + "\n", encoding="utf-8")
    shutil.copy2(export / MANIFEST_NAME, out / MANIFEST_NAME)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the best one is the adapter above
    log.info("wrote adapter, tokenizer and training_config.json to %s", out)


def write_log_history(history: Sequence[Mapping[str, Any]], out: Path) -> Path:
    """Write the trainer's log (loss per logged step, eval loss, learning rate) as
    `out/log_history.json`: the loss curve stays with the adapter once checkpoints are gone."""
    path = out / LOG_HISTORY_NAME
    path.write_text(json.dumps(list(history), indent=1) + "\n", encoding="utf-8")
    return path


def _merge(model: Any, tokenizer: Any, out: Path) -> None:
    merged = model.merge_and_unload()
    merged.save_pretrained(str(out / "merged"))
    tokenizer.save_pretrained(str(out / "merged"))


def merge_into_16bit_base(base_model: str | None, setup: Setup, tokenizer: Any, out: Path) -> None:
    """Fold the adapter saved in `out` into the base reloaded in 16-bit on the CPU; write out/merged/.

    What a quantized run's `--merge` does (see `merge_message`); runs without a GPU, as it
    needs none.
    """
    from peft import PeftModel

    # CPU, unquantized: the GPU still holds the k-bit model, and RAM is what a merge of 8B needs.
    base, _ = load_causal_lm(base_model, **model_load_kwargs(Setup("cpu", merge_dtype(setup), None)))
    _merge(PeftModel.from_pretrained(base, str(out)), tokenizer, out)
