"""Where and in what precision a run trains: resolved once, before anything is loaded.

`resolve_setup` is pure: it takes the requested device, precision and quantization and the
machine's `Capabilities` (detected by `detect_capabilities`, injected in tests) and returns the
`Setup` the trainer uses, or raises ConfigError naming the missing piece. Rules:

- device `auto`: CUDA when torch sees a device (a ROCm build of torch counts: it answers
  `torch.cuda`), else the CPU;
- precision `auto`: bf16 on a GPU that supports it (`torch.cuda.is_bf16_supported()`: Ampere and
  newer, recent AMD), fp16 with loss scaling on older GPUs (T4, V100), fp32 on the CPU. bf16 on
  the CPU only when asked (it halves the weights but is slower on CPUs without bf16 units); fp16
  on the CPU is refused (transformers' loss scaling needs a GPU);
- quantization `4bit`/`8bit` (QLoRA) needs bitsandbytes and a CUDA device: both are checked here,
  so a missing piece costs a second, not a model load.

>>> resolve_setup("auto", "auto", None, Capabilities(cuda=True, bf16=True))
Setup(device='cuda', precision='bf16', quantization=None)
>>> resolve_setup("auto", "auto", None, Capabilities(cuda=True, bf16=False)).precision
'fp16'
>>> resolve_setup("auto", "auto", None, Capabilities(cuda=False, bf16=False))
Setup(device='cpu', precision='fp32', quantization=None)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

from synthgate.errors import ConfigError

DeviceChoice = Literal["auto", "cpu", "cuda"]
PrecisionChoice = Literal["auto", "fp32", "bf16", "fp16"]
Quantization = Literal["4bit", "8bit"]

QLORA_EXTRA_HINT = "Install it with: pip install 'synthgate[qlora]' (bitsandbytes>=0.43; Linux + CUDA GPU)."


@dataclass(frozen=True)
class Capabilities:
    """What this machine offers training: a CUDA device, bf16 on it, bitsandbytes, the GPUs."""

    cuda: bool
    bf16: bool
    bitsandbytes: bool = False
    gpu_count: int = 0
    gpu_name: str | None = None


@dataclass(frozen=True)
class Setup:
    """The resolved device, precision and quantization of a run."""

    device: Literal["cpu", "cuda"]
    precision: Literal["fp32", "bf16", "fp16"]
    quantization: Quantization | None

    def describe(self) -> str:
        """One line for humans: what trains where.

        >>> Setup("cuda", "bf16", "4bit").describe()
        'device cuda, precision bf16, base weights 4-bit NF4 (double quantization, bf16 compute)'
        """
        line = f"device {self.device}, precision {self.precision}"
        if self.quantization == "4bit":
            return line + f", base weights 4-bit NF4 (double quantization, {self.compute_dtype} compute)"
        if self.quantization == "8bit":
            return line + ", base weights 8-bit (LLM.int8)"
        return line + f", base weights {self.precision}"

    @property
    def compute_dtype(self) -> str:
        """Dtype of matmuls over quantized weights: the run's precision (bf16 where the GPU has it)."""
        return "fp32" if self.precision == "fp32" else self.precision


def detect_capabilities() -> Capabilities:
    """This machine's `Capabilities`, read from torch and the installed packages."""
    import torch

    cuda = torch.cuda.is_available()
    return Capabilities(
        cuda=cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        bitsandbytes=importlib.util.find_spec("bitsandbytes") is not None,
        gpu_count=torch.cuda.device_count() if cuda else 0,
        gpu_name=torch.cuda.get_device_name(0) if cuda else None,
    )


def resolve_setup(
    device: DeviceChoice, precision: PrecisionChoice, quantization: Quantization | None, caps: Capabilities
) -> Setup:
    """The `Setup` for the requested choices on a machine with `caps`; ConfigError when impossible."""
    if quantization is not None and not caps.bitsandbytes:
        raise ConfigError(
            f"--quantization {quantization} (QLoRA) needs the bitsandbytes package, which is not installed",
            hint=QLORA_EXTRA_HINT,
        )
    wants_gpu = device == "cuda" or (quantization is not None and device == "auto")
    if wants_gpu and not caps.cuda:
        need = f"--quantization {quantization} (bitsandbytes)" if quantization else "--device cuda"
        raise ConfigError(
            f"{need} needs a CUDA GPU, but torch sees none (torch.cuda.is_available() is False)",
            hint="Run on a machine with a GPU and a CUDA (or ROCm) build of torch, or train without "
            "--quantization on the CPU (--device cpu).",
        )
    if quantization is not None and device == "cpu":
        raise ConfigError(
            f"--quantization {quantization} cannot run on the CPU: bitsandbytes' k-bit training needs a GPU",
            hint="Drop --device cpu (a GPU is picked automatically), or drop --quantization.",
        )
    on_gpu = device == "cuda" or (device == "auto" and caps.cuda)
    resolved_device: Literal["cpu", "cuda"] = "cuda" if on_gpu else "cpu"
    if precision == "auto":
        if resolved_device == "cpu":
            return Setup("cpu", "fp32", quantization)
        return Setup("cuda", "bf16" if caps.bf16 else "fp16", quantization)
    if precision == "bf16" and resolved_device == "cuda" and not caps.bf16:
        raise ConfigError(
            f"--precision bf16 but this GPU ({caps.gpu_name or 'unknown'}) does not support bf16",
            hint="Use --precision fp16 (or auto, which picks fp16 with loss scaling here).",
        )
    if precision == "fp16" and resolved_device == "cpu":
        raise ConfigError(
            "--precision fp16 needs a GPU: fp16 training relies on loss scaling, which transformers runs "
            "on CUDA only",
            hint="On the CPU use fp32 (the default) or bf16.",
        )
    return Setup(resolved_device, precision, quantization)


def trainer_precision_args(setup: Setup) -> dict[str, bool]:
    """The SFTConfig flags for `setup`: bf16/fp16 mixed precision and whether to stay on the CPU.

    >>> trainer_precision_args(Setup("cuda", "fp16", None))
    {'bf16': False, 'fp16': True, 'use_cpu': False}
    """
    # Set both flags explicitly: TRL turns bf16 on by default, which transformers rejects on a CPU.
    return {
        "bf16": setup.precision == "bf16",
        "fp16": setup.precision == "fp16",
        "use_cpu": setup.device == "cpu",
    }


def model_load_kwargs(setup: Setup, local_rank: int = 0) -> dict[str, Any]:
    """Keyword arguments for `from_pretrained` that load the base for `setup` (imports torch).

    Unquantized: weights in the run's precision (bf16 halves them; fp16 runs keep fp16 weights
    and PEFT keeps the LoRA weights in fp32, which loss scaling needs). Quantized: bitsandbytes
    NF4 with double quantization (4bit) or LLM.int8 (8bit), placed on this process's GPU, as
    k-bit models cannot be moved after loading.
    """
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[setup.precision]
    if setup.quantization is None:
        return {"dtype": dtype}
    from transformers import BitsAndBytesConfig

    if setup.quantization == "4bit":
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    else:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    return {"dtype": dtype, "quantization_config": quant, "device_map": {"": local_rank}}
