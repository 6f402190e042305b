"""TrainConfig: practical defaults, strict keys, YAML/JSON files with overrides on top."""

from __future__ import annotations

import json

import pytest

from synthgate.errors import ConfigError
from synthgate.training.config import TrainConfig


def test_defaults_follow_lora_sft_practice():
    cfg = TrainConfig()
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.target_modules) == (16, 32, 0.05, "all-linear")
    assert (cfg.learning_rate, cfg.num_train_epochs, cfg.lr_scheduler_type, cfg.warmup_ratio) == (
        5e-5,
        2.0,
        "cosine",
        0.05,
    )
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.max_steps, cfg.seed) == (
        4,
        1,
        -1,
        42,
    )
    assert cfg.completion_only_loss is True and cfg.neftune_noise_alpha is None
    assert cfg.max_length is None  # taken from the export manifest
    assert cfg.eval_strategy == "epoch" and cfg.load_best_model_at_end


def test_every_field_is_described():
    undocumented = [name for name, f in TrainConfig.model_fields.items() if not f.description]
    assert undocumented == []


def test_yaml_file_with_overrides_on_top(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("lora_r: 8\nlearning_rate: 1.0e-4\nmax_steps: 50\n")
    cfg = TrainConfig.load(path, {"max_steps": 2, "neftune_noise_alpha": 5})
    assert (cfg.lora_r, cfg.learning_rate, cfg.max_steps, cfg.neftune_noise_alpha) == (8, 1e-4, 2, 5.0)


def test_json_file_round_trips_a_resolved_config(tmp_path):
    cfg = TrainConfig(
        max_length=256, eval_strategy="steps", eval_steps=20, target_modules=["q_proj", "v_proj"]
    )
    path = tmp_path / "training_config.json"
    path.write_text(cfg.model_dump_json())
    assert TrainConfig.load(path) == cfg
    assert json.loads(path.read_text())["target_modules"] == ["q_proj", "v_proj"]


def test_a_typo_in_the_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("lora_rank: 8\n")
    with pytest.raises(ConfigError, match=r"train\.yaml: lora_rank: Extra inputs are not permitted"):
        TrainConfig.load(path)


def test_a_typo_in_overrides_is_an_error():
    with pytest.raises(ConfigError, match=r"<overrides>: max_step: Extra inputs are not permitted"):
        TrainConfig.load(overrides={"max_step": 2})


def test_step_evaluation_needs_eval_steps():
    with pytest.raises(ConfigError, match=r"eval_strategy 'steps' needs eval_steps"):
        TrainConfig.load(overrides={"eval_strategy": "steps"})


@pytest.mark.parametrize("steps", [0, -2])
def test_max_steps_is_off_or_positive(steps):
    with pytest.raises(ConfigError, match=rf"max_steps must be -1 \(off\) or a positive number, got {steps}"):
        TrainConfig.load(overrides={"max_steps": steps})


def test_out_of_range_values_are_refused():
    with pytest.raises(ConfigError, match=r"warmup_ratio: Input should be less than 1"):
        TrainConfig.load(overrides={"warmup_ratio": 1.5})
