"""train(): refusals happen before any model is loaded; a real short run writes a usable adapter.

The refusal tests are fast (a model load is made to fail the test); two `slow` tests train the
real embedded Gemma 3 270M on CPU (about a minute each on two cores), a third merges an adapter
into a 16-bit reload of it, as a quantized run's --merge does (no training).
"""

from __future__ import annotations

import os

# oneDNN's AMX path dies with "Illegal instruction" on these Xeons; set before torch loads.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

import json  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
from test_manifest import flip_one_byte, write_export  # noqa: E402

import synthgate.training.sft as sft  # noqa: E402
from synthgate.errors import ConfigError, GateRefused, InputError, ManifestMismatch, ModelError  # noqa: E402
from synthgate.training.config import TrainConfig  # noqa: E402
from synthgate.training.device import detect_capabilities, resolve_setup  # noqa: E402
from synthgate.training.manifest import MANIFEST_NAME, TRAIN_FILE, verify_export, write_manifest  # noqa: E402
from synthgate.training.sft import LOG_HISTORY_NAME, LabelMaskError, train  # noqa: E402

SMOKE = {"max_steps": 2, "logging_steps": 1}


class ModelLoaded(Exception):
    """Raised by the stand-in loader: reaching it means every refusal check let the run through."""


@pytest.fixture
def no_model_load(monkeypatch):
    """Make any model load fail loudly, and record the attempts."""
    calls = []

    def load(spec, **load_kwargs):
        calls.append(spec)
        raise ModelLoaded(spec)

    monkeypatch.setattr(sft, "load_causal_lm", load)
    return calls


def test_one_edited_byte_refuses_before_any_model_is_loaded(tmp_path, no_model_load):
    write_export(tmp_path / "export")
    flip_one_byte(tmp_path / "export" / TRAIN_FILE)
    started = time.perf_counter()
    with pytest.raises(
        ManifestMismatch, match=r"train\.jsonl does not match the manifest: sha256 expected"
    ) as info:
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig())
    assert time.perf_counter() - started < 2.0
    assert no_model_load == [] and info.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_failed_gate_refuses_before_any_model_is_loaded(tmp_path, no_model_load):
    write_export(tmp_path / "export", gate_passed=False)
    with pytest.raises(GateRefused, match=r"failed the gate .*refusing to train on it") as info:
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig())
    assert no_model_load == [] and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("base", "teacher"),
    [
        (None, "google/gemma-3-270m"),
        (None, "gemma3:270m"),
        (None, "gemma-3-270m-Q4_K_M.gguf"),
        ("/models/Qwen2.5-7B-Instruct", "qwen2.5:7b-instruct"),
    ],
)
def test_teacher_as_base_model_is_refused_without_allow_self_distill(tmp_path, no_model_load, base, teacher):
    write_export(tmp_path / "export", teachers=("gpt-4o-mini", teacher))
    with pytest.raises(
        GateRefused, match=rf"is a teacher that generated this data \({teacher}\).*self-distillation"
    ):
        train(tmp_path / "export", base, tmp_path / "out", TrainConfig())
    assert no_model_load == []


def test_allow_self_distill_lets_the_teacher_train(tmp_path, no_model_load):
    write_export(tmp_path / "export", teachers=("google/gemma-3-270m",))
    with pytest.raises(ModelLoaded):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig(), allow_self_distill=True)
    assert no_model_load == [None]


def test_a_different_teacher_is_not_self_distillation(tmp_path, no_model_load):
    write_export(tmp_path / "export", teachers=("gemma3:27b", "google/gemma-3-270m-it"))
    with pytest.raises(ModelLoaded):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig())


def test_turning_off_completion_only_loss_is_refused_when_the_policy_requires_it(tmp_path, no_model_load):
    write_export(tmp_path / "export")
    config = TrainConfig(completion_only_loss=False)
    with pytest.raises(
        GateRefused, match=r"requires completion-only loss, but .*completion_only_loss: false"
    ):
        train(tmp_path / "export", None, tmp_path / "out", config)
    assert no_model_load == []


def test_completion_only_loss_may_be_off_when_the_policy_allows_it(tmp_path, no_model_load):
    write_export(tmp_path / "export", policy={"require_completion_only": False})
    with pytest.raises(ModelLoaded):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig(completion_only_loss=False))


def test_a_non_empty_output_folder_is_refused(tmp_path, no_model_load):
    write_export(tmp_path / "export")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"out is not empty"):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig())
    assert no_model_load == []


def test_an_export_without_train_jsonl_is_refused_before_any_model_is_loaded(tmp_path, no_model_load):
    manifest = write_export(tmp_path / "export")
    (tmp_path / "export" / TRAIN_FILE).rename(tmp_path / "export" / "train.parquet")
    files = {("train.parquet" if k == TRAIN_FILE else k): v for k, v in manifest.files.items()}
    write_manifest(tmp_path / "export", manifest.model_copy(update={"files": files}))
    with pytest.raises(
        InputError, match=r"export: the export holds no train\.jsonl: training reads the trl-jsonl"
    ):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig())
    assert no_model_load == []


def test_a_missing_base_model_is_a_model_error_naming_the_path(tmp_path):
    write_export(tmp_path / "export")
    missing = tmp_path / "no-such-model"
    with pytest.raises(
        ModelError, match=rf"model not found: {missing} is neither a folder nor a \.gguf file"
    ):
        train(tmp_path / "export", str(missing), tmp_path / "out", TrainConfig())


@pytest.mark.slow
def test_short_real_run_writes_adapter_tokenizer_config_manifest_and_merged_model(tmp_path):
    manifest = write_export(tmp_path / "export", n_train=8, n_eval=2)
    out = tmp_path / "out"
    config = TrainConfig.load(overrides={**SMOKE, "merge": True})

    result = train(tmp_path / "export", None, out, config)

    assert result.out_dir == out and result.steps == 2
    assert result.train_loss > 0 and result.eval_loss is not None and result.eval_loss > 0
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (out / name).is_file(), name
    assert (out / "chat_template.jinja").read_text().startswith("{#- Gemma 3 turn template")
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"], adapter["task_type"]) == (16, 32, "CAUSAL_LM")
    saved = TrainConfig.load(out / "training_config.json")
    # Written as run: the manifest's length, and the device and precision "auto" resolved to here
    # (cpu and fp32 on the CPU machines the suite runs on).
    setup = resolve_setup("auto", "auto", None, detect_capabilities())
    resolved = {"max_length": manifest.max_length, "device": setup.device, "precision": setup.precision}
    assert saved == config.model_copy(update=resolved)
    assert (out / MANIFEST_NAME).read_bytes() == (tmp_path / "export" / MANIFEST_NAME).read_bytes()
    assert verify_export(tmp_path / "export") == manifest
    assert not (out / "checkpoints").exists()
    # The loss curve outlives the checkpoints: one logged loss per logging step, the last at step 2.
    history = json.loads((out / LOG_HISTORY_NAME).read_text())
    assert [h["step"] for h in history if "loss" in h][-1] == 2
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (out / "merged" / name).is_file(), name


@pytest.mark.slow
def test_full_sequence_labels_stop_training_before_the_first_step(tmp_path, monkeypatch):
    # Simulate a TRL regression: the collator hands out labels for every token, prompt included.
    from trl import SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collate = DataCollatorForLanguageModeling.torch_call

    def full_sequence(self, examples):
        batch = collate(self, examples)
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        return batch

    steps = []
    monkeypatch.setattr(DataCollatorForLanguageModeling, "torch_call", full_sequence)
    monkeypatch.setattr(SFTTrainer, "train", lambda self, *a, **k: steps.append(1))
    write_export(tmp_path / "export")
    with pytest.raises(
        LabelMaskError, match=r"row 0: \d+ prompt token\(s\) carry labels \(first at position 0\)"
    ):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig.load(overrides=SMOKE))
    assert steps == []
    assert not (tmp_path / "out" / "adapter_model.safetensors").exists()


@pytest.mark.slow
def test_a_quantized_runs_merge_folds_the_adapter_into_a_16bit_reload_of_the_base(tmp_path):
    # No GPU here: the adapter is made untrained (random B) instead of by a QLoRA run; the merge
    # itself is the code a 4bit run takes after training, and it runs on the CPU by design.
    import torch
    from peft import LoraConfig, get_peft_model

    from synthgate.models.student import load_causal_lm
    from synthgate.training.device import Setup
    from synthgate.training.sft import merge_into_16bit_base

    base, tokenizer = load_causal_lm(None)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], task_type="CAUSAL_LM")
    adapted = get_peft_model(base, lora)
    q_proj = adapted.base_model.model.model.layers[0].self_attn.q_proj
    torch.nn.init.normal_(q_proj.lora_B["default"].weight, std=0.05)
    with torch.no_grad():
        plain = q_proj.base_layer.weight.to(torch.bfloat16).float()
        a, b = q_proj.lora_A["default"].weight, q_proj.lora_B["default"].weight
        delta = (b @ a) * q_proj.scaling["default"]
    adapted.save_pretrained(str(tmp_path))

    merge_into_16bit_base(None, Setup("cuda", "bf16", "4bit"), tokenizer, tmp_path)

    config = json.loads((tmp_path / "merged" / "config.json").read_text())
    merged, _ = load_causal_lm(str(tmp_path / "merged"))
    after = merged.model.layers[0].self_attn.q_proj.weight.detach()
    assert config["dtype"] == "bfloat16" and after.dtype == torch.bfloat16
    # The merged weights moved away from the plain 16-bit base, by the adapter's update.
    moved, left = (after.float() - plain).abs().max(), (after.float() - plain - delta).abs().max()
    assert moved > 4 * left and moved > 0.5 * delta.abs().max()
    assert (tmp_path / "merged" / "tokenizer.json").is_file()
