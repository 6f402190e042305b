"""The --plan memory estimate: model shapes read without weights, parts, calibration, largest batch."""

from __future__ import annotations

import json

import pytest

from synthgate.errors import ModelError
from synthgate.training.plan import GIB, config_shape, estimate, largest_batch, read_gguf_shape, read_shape

# Llama 3.1 8B's public config.json (the architecture keys the estimate reads).
LLAMA_8B = {
    "architectures": ["LlamaForCausalLM"],
    "vocab_size": 128256,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "tie_word_embeddings": False,
}
# Peak RSS of benchmarks/train_step.py on the 2-core CPU machine: Gemma 3 270M, LoRA r=16, fp32.
MEASURED_CPU_GIB = {(1, 512): 3.7, (4, 512): 8.8, (1, 2048): 8.9}


@pytest.fixture(scope="module")
def gemma():
    return read_shape("default")


def test_the_embedded_model_shape_comes_from_its_gguf_header(gemma):
    assert (gemma.name, gemma.params, gemma.vocab) == ("gemma-3-270m", 268_098_176, 262_144)
    assert (gemma.hidden, gemma.intermediate, gemma.layers) == (640, 2048, 18)
    assert (gemma.heads, gemma.kv_heads, gemma.head_dim, gemma.tied_embeddings) == (4, 1, 256, True)


def test_a_config_json_gives_the_same_shape_as_the_gguf_header(gemma):
    config = {
        "vocab_size": 262144,
        "hidden_size": 640,
        "intermediate_size": 2048,
        "num_hidden_layers": 18,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 256,
    }
    from_config = config_shape(config, "gemma-3-270m")
    assert from_config.__dict__ | {"params": 0} == gemma.__dict__ | {"params": 0}
    assert abs(from_config.params - gemma.params) / gemma.params < 0.001  # norms are approximated


def test_llama_8b_counts_8_billion_parameters_and_42m_lora_weights_at_rank_16(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_8B))
    shape = read_shape(tmp_path)
    assert round(shape.params / 1e9, 2) == 8.03 and not shape.tied_embeddings
    assert shape.lora_params(16) == 41_943_040
    assert shape.lora_params(16, ["q_proj", "v_proj"]) == 32 * 16 * (4096 + 4096 + 4096 + 1024)


@pytest.mark.parametrize(("batch", "max_length"), list(MEASURED_CPU_GIB))
def test_the_estimate_is_within_10_percent_above_the_measured_cpu_peak(gemma, batch, max_length):
    est = estimate(gemma, lora_r=16, batch=batch, max_length=max_length, precision="fp32", device="cpu")
    measured = MEASURED_CPU_GIB[(batch, max_length)]
    assert measured <= est.total / GIB <= measured * 1.10


def test_the_logits_of_a_262k_vocabulary_dominate_the_peak(gemma):
    est = estimate(gemma, lora_r=16, batch=1, max_length=2048, precision="fp32", device="cpu")
    assert round(est.parts["logits"] / GIB, 2) == 6.0  # 2048 x 262144 x 3 fp32 copies
    assert est.parts["logits"] > est.total / 2
    assert est.parts["logits"] > 5 * est.parts["base weights"]


def test_the_largest_batch_follows_the_memory_budget(gemma):
    cpu = {"lora_r": 16, "precision": "fp32", "device": "cpu"}
    assert largest_batch(gemma, 24, max_length=2048, **cpu) == 2
    assert largest_batch(gemma, 24, max_length=512, **cpu) == 11
    assert largest_batch(gemma, 2, max_length=2048, **cpu) == 0
    gpu = {"lora_r": 16, "precision": "bf16", "device": "cuda"}
    assert largest_batch(gemma, 16, max_length=512, **gpu) == 7


def test_an_8b_model_in_4bit_fits_16_gib_at_2048_tokens_only_with_checkpointing():
    shape = config_shape(LLAMA_8B, "llama-3.1-8b")
    settings = {"lora_r": 16, "max_length": 2048, "precision": "bf16", "device": "cuda"}
    settings["quantization"] = "4bit"
    with_ckpt = estimate(shape, batch=1, gradient_checkpointing=True, **settings)
    without = estimate(shape, batch=1, **settings)
    assert 12 < with_ckpt.total / GIB < 14 and without.total / GIB > 16
    assert largest_batch(shape, 16, gradient_checkpointing=True, **settings) == 1
    assert largest_batch(shape, 16, **settings) == 0
    # 4-bit linear layers plus fp32 embeddings and head (peft's k-bit preparation upcasts them).
    linear_gib = shape.linear_params * 0.5159 / GIB
    fp32_embeddings_gib = 2 * 128256 * 4096 * 4 / GIB
    assert with_ckpt.parts["base weights"] / GIB == pytest.approx(linear_gib + fp32_embeddings_gib, 0.01)
    unquantized = estimate(shape, batch=1, lora_r=16, max_length=2048, precision="bf16", device="cuda")
    assert unquantized.parts["base weights"] / GIB == pytest.approx(8.03e9 * 2 / GIB, 0.01)


def test_a_config_without_the_architecture_keys_names_the_missing_one(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 10, "hidden_size": 8}))
    with pytest.raises(ModelError, match=r"config\.json of .* has no num_attention_heads"):
        read_shape(tmp_path)


def test_a_file_that_is_not_a_gguf_is_a_model_error(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelError, match=r"could not read the model shape from the GGUF header of .*\.gguf"):
        read_gguf_shape(fake)
    with pytest.raises(ModelError, match=r"cannot plan for .*: it is neither a folder with config\.json"):
        read_shape(tmp_path / "missing")


def test_the_docstring_examples_of_plan_budget_and_device_hold():
    import doctest

    from synthgate.training import budget, device, plan

    for module in (plan, budget, device):
        results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert results.attempted >= 3 and results.failed == 0, module.__name__
