"""Device, precision and QLoRA resolution: pure rules over injected capabilities, refusals before loading.

No GPU here: the GPU cases run on capabilities injected as a GPU machine would report them; the
QLoRA refusals run for real (bitsandbytes is not installed on this machine).
"""

from __future__ import annotations

import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

import pytest  # noqa: E402
import torch  # noqa: E402
from test_manifest import write_export  # noqa: E402

import synthgate.training.sft as sft  # noqa: E402
from synthgate.errors import ConfigError  # noqa: E402
from synthgate.training.config import TrainConfig  # noqa: E402
from synthgate.training.device import (  # noqa: E402
    Capabilities,
    Setup,
    detect_capabilities,
    model_load_kwargs,
    resolve_setup,
    trainer_precision_args,
)
from synthgate.training.sft import merge_message, train  # noqa: E402

A100 = Capabilities(cuda=True, bf16=True, bitsandbytes=True, gpu_count=1, gpu_name="NVIDIA A100-SXM4-40GB")
T4 = Capabilities(cuda=True, bf16=False, bitsandbytes=True, gpu_count=1, gpu_name="Tesla T4")
CPU_ONLY = Capabilities(cuda=False, bf16=False)


class ModelLoaded(Exception):
    """Raised by the stand-in loader: reaching it means every check before the load passed."""


@pytest.fixture
def loads(monkeypatch):
    """Record each model load (spec and from_pretrained keyword arguments) and stop there."""
    calls = []

    def load(spec, **load_kwargs):
        calls.append((spec, load_kwargs))
        raise ModelLoaded(spec)

    monkeypatch.setattr(sft, "load_causal_lm", load)
    return calls


def test_auto_trains_on_the_gpu_in_bf16_where_the_gpu_supports_it():
    assert resolve_setup("auto", "auto", None, A100) == Setup("cuda", "bf16", None)


def test_auto_falls_back_to_fp16_with_loss_scaling_on_a_gpu_without_bf16():
    setup = resolve_setup("auto", "auto", None, T4)
    assert setup == Setup("cuda", "fp16", None)
    assert trainer_precision_args(setup) == {"bf16": False, "fp16": True, "use_cpu": False}


def test_the_cpu_trains_in_fp32_by_default_and_in_bf16_only_when_asked():
    assert resolve_setup("auto", "auto", None, CPU_ONLY) == Setup("cpu", "fp32", None)
    assert resolve_setup("cpu", "auto", None, A100) == Setup("cpu", "fp32", None)  # a GPU is not forced
    assert resolve_setup("auto", "bf16", None, CPU_ONLY) == Setup("cpu", "bf16", None)


def test_fp16_on_the_cpu_is_refused():
    with pytest.raises(ConfigError, match=r"--precision fp16 needs a GPU: fp16 training relies on loss"):
        resolve_setup("auto", "fp16", None, CPU_ONLY)


def test_bf16_on_a_gpu_without_it_is_refused_naming_the_gpu():
    with pytest.raises(ConfigError, match=r"--precision bf16 but this GPU \(Tesla T4\) does not support"):
        resolve_setup("cuda", "bf16", None, T4)


def test_asking_for_cuda_without_a_gpu_is_refused():
    with pytest.raises(ConfigError, match=r"--device cuda needs a CUDA GPU, but torch sees none"):
        resolve_setup("cuda", "auto", None, CPU_ONLY)


def test_this_machine_is_detected_as_cpu_only_without_bitsandbytes():
    caps = detect_capabilities()
    assert (caps.cuda, caps.bitsandbytes, caps.gpu_count) == (torch.cuda.is_available(), False, 0)


def test_qlora_without_bitsandbytes_is_refused_naming_the_extra():
    with pytest.raises(ConfigError, match=r"--quantization 4bit \(QLoRA\) needs the bitsandbytes") as e:
        resolve_setup("auto", "auto", "4bit", detect_capabilities())
    assert "pip install 'synthgate[qlora]'" in e.value.hint


def test_qlora_with_bitsandbytes_but_no_gpu_is_refused():
    no_gpu = Capabilities(cuda=False, bf16=False, bitsandbytes=True)
    with pytest.raises(ConfigError, match=r"--quantization 8bit \(bitsandbytes\) needs a CUDA GPU"):
        resolve_setup("auto", "auto", "8bit", no_gpu)
    with pytest.raises(ConfigError, match=r"--quantization 4bit cannot run on the CPU"):
        resolve_setup("cpu", "auto", "4bit", A100)


def test_the_cpu_precision_flags_make_a_valid_trainer_config(tmp_path):
    from trl import SFTConfig

    for precision in ("fp32", "bf16"):
        flags = trainer_precision_args(resolve_setup("cpu", precision, None, CPU_ONLY))
        args = SFTConfig(output_dir=str(tmp_path), report_to="none", **flags)
        assert (args.bf16, args.fp16, args.use_cpu) == (precision == "bf16", False, True)


def test_4bit_loads_nf4_with_double_quantization_and_bf16_compute_on_this_process_gpu():
    kwargs = model_load_kwargs(resolve_setup("auto", "auto", "4bit", A100), local_rank=1)
    quant = kwargs["quantization_config"]
    assert (quant.load_in_4bit, quant.bnb_4bit_quant_type) == (True, "nf4")
    assert quant.bnb_4bit_use_double_quant is True
    assert quant.bnb_4bit_compute_dtype == torch.bfloat16 and kwargs["dtype"] == torch.bfloat16
    assert kwargs["device_map"] == {"": 1}
    assert model_load_kwargs(Setup("cpu", "fp32", None)) == {"dtype": torch.float32}


def test_a_qlora_run_without_bitsandbytes_stops_before_any_model_is_loaded(tmp_path, loads):
    write_export(tmp_path / "export")
    with pytest.raises(ConfigError, match=r"needs the bitsandbytes package"):
        train(tmp_path / "export", None, tmp_path / "out", TrainConfig(quantization="4bit"))
    assert loads == [] and not (tmp_path / "out").exists()


def test_a_qlora_run_on_a_gpu_machine_loads_nf4_and_announces_the_16bit_merge(tmp_path, loads):
    write_export(tmp_path / "export")
    lines: list[str] = []
    with pytest.raises(ModelLoaded):
        train(
            tmp_path / "export",
            None,
            tmp_path / "out",
            TrainConfig(quantization="4bit", merge=True),
            capabilities=A100,
            echo=lines.append,
        )
    assert lines[0] == (
        "device cuda, precision bf16, base weights 4-bit NF4 (double quantization, bf16 compute)"
    )
    assert lines[-1].startswith(
        "merge: the base trains in 4bit, so merged/ is written from the base reloaded in bf16 on the CPU"
    )
    [(spec, kwargs)] = loads
    assert spec is None and kwargs["quantization_config"].bnb_4bit_quant_type == "nf4"


def test_merge_reloads_in_fp16_on_gpus_without_bf16_and_says_nothing_for_unquantized_runs():
    assert "reloaded in fp16 on the CPU" in merge_message(Setup("cuda", "fp16", "8bit"))
    assert merge_message(Setup("cuda", "bf16", None)) is None


def test_config_keys_for_device_precision_and_quantization_are_closed_sets():
    with pytest.raises(ConfigError, match=r"quantization: Input should be '4bit' or '8bit'"):
        TrainConfig.load(overrides={"quantization": "nf4"})
    with pytest.raises(ConfigError, match=r"device: Input should be 'auto', 'cpu' or 'cuda'"):
        TrainConfig.load(overrides={"device": "gpu"})
    cfg = TrainConfig.load(overrides={"gradient_accumulation_steps": 8, "gradient_checkpointing": True})
    assert (cfg.device, cfg.precision, cfg.quantization) == ("auto", "auto", None)
    assert (cfg.gradient_accumulation_steps, cfg.gradient_checkpointing) == (8, True)
