"""One model key for self-distillation: hub ids, Ollama tags, folders, GGUF files and cache paths
of one model agree; different models (sizes, instruction-tuned variants) do not."""

from __future__ import annotations

import pytest
import yaml

from synthgate.errors import ConfigError
from synthgate.models.names import model_key
from synthgate.pipelines.config import load_generate_config

SAME = [
    ("google/gemma-3-270m", "gemma-3-270m"),
    ("google/gemma-3-270m", "gemma3:270m"),
    ("google/gemma-3-270m", "gemma-3-270m-Q4_K_M.gguf"),
    ("google/gemma-3-270m", "/models/gemma-3-270m-F16.gguf"),
    ("google/gemma-3-270m", "gemma-3-270m.Q8_0.gguf"),
    ("google/gemma-3-270m", "unsloth/gemma-3-270m-GGUF"),
    ("google/gemma-3-270m", "~/.cache/huggingface/hub/models--google--gemma-3-270m/snapshots/0a1b2c"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "/models/Qwen2.5-0.5B-Instruct"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "/models/Qwen2.5-0.5B-Instruct/"),
    ("Qwen/Qwen2.5-0.5B-Instruct", r"C:\models\Qwen2.5-0.5B-Instruct"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5:0.5b-instruct"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5:0.5b-instruct-q4_K_M"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5-0.5b-instruct-iq4_xs.gguf"),
    ("llama3.2:latest", "llama3.2"),
    ("mistral-7b-instruct.safetensors", "Mistral-7B-Instruct"),
]

DIFFERENT = [
    ("google/gemma-3-270m", "google/gemma-3-270m-it"),
    ("google/gemma-3-270m", "gemma3:27b"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B"),
    ("qwen2.5-coder-0.5b-instruct", "Qwen/Qwen2.5-0.5B-Instruct"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_names_of_one_model_share_a_key(a, b):
    assert model_key(a) == model_key(b) != ""


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_names_of_different_models_have_different_keys(a, b):
    assert model_key(a) != model_key(b)


def test_a_gguf_teacher_of_the_student_base_model_is_refused_by_generate(tmp_path):
    path = tmp_path / "gen.yaml"
    cfg = {
        "name": "x",
        "sources": {"topics": ["LoRA"]},
        "teacher": {"backend": "ollama", "model": "gemma-3-270m-Q4_K_M.gguf"},
        "count": 1,
    }
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"the teacher \(gemma-3-270m-Q4_K_M\.gguf\) is the student's base"):
        load_generate_config(path)
