"""`synthgate train --plan`: the peak memory of a LoRA/QLoRA run, estimated without loading weights.

The model's shape comes from its `config.json` (a Hugging Face folder) or from the header of a
GGUF file (the embedded Gemma 3 270M): vocabulary V, hidden size H, MLP size I, layers N, query
width Q = heads x head_dim, key/value width K = kv_heads x head_dim, and the parameter count P.
For t = batch x max_length tokens, in bytes (w = bytes per weight, c = bytes per activation: 4 in
fp32, 2 in bf16/fp16):

    base weights   P x w                      unquantized (fp32 4, bf16/fp16 2)
                   P_lin x 0.516 + P_rest x 4 4bit: NF4 + double-quantized scales for the linear
                                              layers; embeddings and norms end up fp32, because
                                              peft's prepare_model_for_kbit_training upcasts them
                   P_lin x 1 + P_rest x 4     8bit (LLM.int8)
    LoRA           L x (4 + 4 + 8)            weights, gradients and AdamW's two moments, fp32
                                              (peft keeps adapters fp32; TRL makes them bf16 over a
                                              quantized base: L x 8); L = r x sum(in + out) of
                                              every adapted linear layer; the frozen base has none
    activations    t x N x A x c              A = 2H + 2Q + 2K + 3I values kept per token and layer
                                              for the backward pass (the normed inputs, q/k/v, the
                                              attention output, the MLP's gate/up/product)
                   t x N x H x c + t x A x c  with gradient checkpointing: each layer's input, plus
                                              one layer recomputed at a time
    logits         t x V x (3 x 4 [+ c])      the log-softmax output, its gradient and the
                                              gradient of the logits, all fp32 (the loss upcasts);
                                              + the 16-bit logits themselves under bf16/fp16
    overhead       CPU 0.95 GiB, CUDA 1 GiB   interpreter, torch, tokenizer and data (CPU,
                                              measured); CUDA context and allocator slack (GPU,
                                              an assumption: not measured here)

Attention is taken to be memory-efficient (SDPA/flash: no t x seq score matrix), which is what
transformers uses for these models by default. The logits term is why a 262k-vocabulary model
such as Gemma 3 needs more memory for 2,048 tokens of logits (6 GiB in fp32) than for its 270M
parameters (1 GiB): the plan shows it, and `largest_batch` follows from it.

Checked against peak RSS on the CPU (benchmarks/train_step.py, Gemma 3 270M, LoRA r=16, fp32):
3.7 GiB measured vs 3.8 estimated at 1x512; 8.8 vs 9.4 at 4x512; 8.9 vs 9.4 at 1x2048. The
per-token terms (3 logits copies, A) and the CPU overhead were set from these three points, so
they calibrate more than they validate; bf16, quantized and GPU figures are not measured here.

>>> gemma = config_shape({"vocab_size": 262144, "hidden_size": 640, "intermediate_size": 2048,
...     "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256},
...     "gemma-3-270m")
>>> est = estimate(gemma, lora_r=16, batch=1, max_length=2048, precision="fp32", device="cpu")
>>> round(est.parts["logits"] / GIB, 2), round(est.parts["base weights"] / GIB, 2), round(est.total / GIB, 1)
(6.0, 1.0, 9.4)
>>> largest_batch(gemma, memory_gib=24, lora_r=16, max_length=2048, precision="fp32", device="cpu")
2
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from synthgate.errors import ModelError
from synthgate.training.config import TrainConfig
from synthgate.training.device import Capabilities

GIB = 1024**3
# NF4 packs two weights a byte; each block of 64 has an 8-bit absmax after double quantization,
# whose fp32 second-level scale covers 256 blocks: 0.5 + 1/64 + 4/(64*256) bytes per weight.
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
INT8_BYTES = 1.0
OVERHEAD = {"cpu": 0.95 * GIB, "cuda": 1.0 * GIB}
_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
# The linear layers of a Llama/Gemma/Qwen/Mistral block, by the names peft matches.
_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a decoder-only model's architecture."""

    name: str
    params: int
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied_embeddings: bool

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one block."""
        h, i = self.hidden, self.intermediate
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        """Weights in the blocks' linear layers: what bitsandbytes quantizes."""
        return self.layers * sum(a * b for a, b in self.linear_shapes().values())

    def lora_params(self, rank: int, target_modules: str | list[str] = "all-linear") -> int:
        """Trainable LoRA weights: rank x (in + out) for every adapted linear layer."""
        names = _LINEAR if target_modules == "all-linear" else [n for n in _LINEAR if n in target_modules]
        shapes = self.linear_shapes()
        return self.layers * sum(rank * sum(shapes[n]) for n in names)

    @property
    def saved_per_token_layer(self) -> int:
        """Values one layer keeps per token for the backward pass (A in the module docstring)."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return 2 * self.hidden + 2 * q + 2 * kv + 3 * self.intermediate


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of one training step, by part (bytes)."""

    shape: ModelShape
    batch: int
    max_length: int
    precision: str
    quantization: str | None
    gradient_checkpointing: bool
    device: str
    lora_params: int
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """The sum of the parts, in bytes."""
        return sum(self.parts.values())


def estimate(
    shape: ModelShape,
    *,
    lora_r: int,
    batch: int,
    max_length: int,
    precision: str,
    device: str,
    quantization: str | None = None,
    gradient_checkpointing: bool = False,
    target_modules: str | list[str] = "all-linear",
) -> MemoryEstimate:
    """The estimated peak memory of a training step (formula in the module docstring)."""
    w = c = _BYTES[precision]
    if quantization == "4bit":
        weights = shape.linear_params * NF4_BYTES + (shape.params - shape.linear_params) * 4
    elif quantization == "8bit":
        weights = shape.linear_params * INT8_BYTES + (shape.params - shape.linear_params) * 4
    else:
        weights = shape.params * w
    lora = shape.lora_params(lora_r, target_modules)
    # TRL casts the adapters of a quantized base to bf16 (the QLoRA paper's setting); else peft keeps fp32.
    a = 2.0 if quantization else 4.0
    tokens = batch * max_length
    per_layer = shape.saved_per_token_layer
    if gradient_checkpointing:
        activations = tokens * (shape.layers * shape.hidden + per_layer) * c
    else:
        activations = tokens * shape.layers * per_layer * c
    logits = tokens * shape.vocab * (3 * 4 + (c if c != 4 else 0))
    parts = {
        "base weights": float(weights),
        "LoRA weights": lora * a,
        "LoRA gradients": lora * a,
        "AdamW state": lora * 2 * a,
        "activations": float(activations),
        "logits": float(logits),
        "overhead": OVERHEAD[device],
    }
    return MemoryEstimate(
        shape, batch, max_length, precision, quantization, gradient_checkpointing, device, lora, parts
    )


def largest_batch(shape: ModelShape, memory_gib: float, *, max_batch: int = 1024, **settings: Any) -> int:
    """The largest batch whose estimate fits in `memory_gib` GiB; 0 when not even one record fits."""
    fits = 0
    for batch in range(1, max_batch + 1):
        if estimate(shape, batch=batch, **settings).total > memory_gib * GIB:
            break
        fits = batch
    return fits


def format_plan(est: MemoryEstimate, memory_gib: float | None = None, fits: int | None = None) -> list[str]:
    """The plan as lines for humans: the setting, each part, the total, and the batch that fits."""
    s = est.shape
    quant = f", base in {est.quantization}" if est.quantization else ""
    ckpt = ", gradient checkpointing" if est.gradient_checkpointing else ""
    lines = [
        f"plan for {s.name}: {s.params / 1e6:,.0f}M parameters, vocabulary {s.vocab:,}, {s.layers} layers, "
        f"hidden {s.hidden}",
        f"  {est.device}, {est.precision}{quant}{ckpt}; LoRA {est.lora_params / 1e6:.2f}M parameters; "
        f"batch {est.batch} x max_length {est.max_length} = {est.batch * est.max_length:,} tokens",
    ]
    width = max(len(k) for k in est.parts)
    for name, size in est.parts.items():
        lines.append(f"  {name:<{width}}  {size / GIB:7.2f} GiB")
    lines.append(f"  {'estimated peak':<{width}}  {est.total / GIB:7.2f} GiB")
    if memory_gib is not None and fits is not None:
        if fits:
            lines.append(
                f"largest batch that fits {memory_gib:g} GiB at max_length {est.max_length}: {fits} "
                "(reach a larger effective batch with gradient_accumulation_steps)"
            )
        else:
            lines.append(
                f"not even a batch of 1 fits {memory_gib:g} GiB at max_length {est.max_length}: try "
                "--gradient-checkpointing, a smaller --max-length, or --quantization 4bit"
            )
    return lines


# --- reading a model's shape without its weights --------------------------------------------


def read_shape(spec: str | os.PathLike[str] | None) -> ModelShape:
    """The `ModelShape` of None/"default" (the embedded model's GGUF), a model folder or a `.gguf`.

    A folder's config.json is read; a GGUF's header (metadata and tensor shapes, not the
    weights). Raises ModelError when neither is there.
    """
    from synthgate.models.embedded import DEFAULT_SPECS, EMBEDDED_NAME, gemma_gguf_path

    if spec in DEFAULT_SPECS:
        return _with_name(read_gguf_shape(gemma_gguf_path()), EMBEDDED_NAME)
    path = Path(spec).expanduser()  # type: ignore[arg-type]
    if path.is_file() and path.suffix == ".gguf":
        return read_gguf_shape(path)
    if path.is_dir() and (path / "config.json").is_file():
        return config_shape(json.loads((path / "config.json").read_text(encoding="utf-8")), path.name)
    if path.is_dir() and len(ggufs := sorted(path.glob("*.gguf"))) == 1:
        return read_gguf_shape(ggufs[0])
    raise ModelError(
        f"cannot plan for {path}: it is neither a folder with config.json nor a .gguf file",
        hint="Pass the model folder (config.json is enough for --plan), a .gguf file, or 'default'.",
    )


def config_shape(config: dict[str, Any], name: str) -> ModelShape:
    """The `ModelShape` of a Hugging Face `config.json` (multimodal configs: their text_config)."""
    cfg = {**config, **config.get("text_config", {})}
    try:
        hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        vocab, layers = int(cfg["vocab_size"]), int(cfg["num_hidden_layers"])
        inter = int(cfg["intermediate_size"])
    except KeyError as missing:
        raise ModelError(
            f"config.json of {name} has no {missing.args[0]}: cannot estimate its memory",
            hint="--plan knows decoder-only configs (Llama, Qwen, Gemma, Mistral and alike).",
        ) from None
    kv_heads = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    tied = bool(config.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True)))
    shape = ModelShape(name, 0, vocab, hidden, inter, layers, heads, kv_heads, head_dim, tied)
    # Norms are a rounding error next to the matrices: 2-4 vectors of H per layer.
    embeddings = vocab * hidden * (1 if tied else 2)
    return _with_params(shape, embeddings + shape.linear_params + layers * 4 * hidden + hidden)


def read_gguf_shape(path: str | os.PathLike[str]) -> ModelShape:
    """The `ModelShape` of a GGUF file, from its header: metadata and tensor sizes, no weights."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            meta, tensors = _read_gguf_header(fh)
        arch = meta["general.architecture"]
        hidden, heads = int(meta[f"{arch}.embedding_length"]), int(meta[f"{arch}.attention.head_count"])
        shape = ModelShape(
            name=path.stem,
            params=sum(tensors.values()),
            vocab=int(meta["tokenizer.ggml.tokens"]),
            hidden=hidden,
            intermediate=int(meta[f"{arch}.feed_forward_length"]),
            layers=int(meta[f"{arch}.block_count"]),
            heads=heads,
            kv_heads=int(meta.get(f"{arch}.attention.head_count_kv", heads)),
            head_dim=int(meta.get(f"{arch}.attention.key_length", hidden // heads)),
            tied_embeddings="output.weight" not in tensors,
        )
    except (OSError, KeyError, ValueError, struct.error) as exc:
        raise ModelError(
            f"could not read the model shape from the GGUF header of {path}: {exc!r}",
            hint="Check that the file is a complete GGUF (v2 or v3) of a decoder-only model.",
        ) from exc
    return shape


_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def _read_gguf_header(fh: BinaryIO) -> tuple[dict[str, Any], dict[str, int]]:
    """(metadata, {tensor name: element count}) of a GGUF; arrays are read as their length only.

    Parsed by hand: gguf's GGUFReader builds every array (262k vocabulary strings) into numpy
    fields, which takes half a minute for the embedded model; this skips them in a second.
    """

    def unpack(fmt: str) -> Any:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, fh.read(size))[0]

    def string() -> str:
        return fh.read(unpack("Q")).decode("utf-8", "replace")

    def value(kind: int) -> Any:
        if kind == _STRING:
            return string()
        if kind == _ARRAY:
            item, count = unpack("I"), unpack("Q")
            if item == _STRING:
                for _ in range(count):
                    fh.seek(unpack("Q"), os.SEEK_CUR)
            else:
                fh.seek(struct.calcsize("<" + _SCALARS[item]) * count, os.SEEK_CUR)
            return count
        return unpack(_SCALARS[kind])

    if fh.read(4) != b"GGUF":
        raise ValueError("not a GGUF file (no GGUF magic)")
    version = unpack("I")
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    n_tensors, n_kv = unpack("Q"), unpack("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(unpack("I"))
    tensors = {}
    for _ in range(n_tensors):
        name = string()
        dims = [unpack("Q") for _ in range(unpack("I"))]
        unpack("I"), unpack("Q")  # type and offset
        count = 1
        for d in dims:
            count *= d
        tensors[name] = count
    return meta, tensors


def _with_name(shape: ModelShape, name: str) -> ModelShape:
    return ModelShape(**{**shape.__dict__, "name": name})


def _with_params(shape: ModelShape, params: int) -> ModelShape:
    return ModelShape(**{**shape.__dict__, "params": params})


# --- the plan of a run ------------------------------------------------------------------------


def plan_training(
    export_dir: str | os.PathLike[str],
    base_model: str | None,
    config: TrainConfig,
    memory_gib: float | None = None,
    capabilities: Capabilities | None = None,
) -> list[str]:
    """`synthgate train --plan`: the run's setup, length budget and memory estimate, as lines.

    Verifies the export and reads the model's shape and (for max_length auto) its tokenizer; no
    weights. A GPU setting (`device: cuda` or a quantization) is planned for as asked even on a
    machine without a GPU or bitsandbytes: planning is how to size a run for hardware elsewhere.
    """
    from synthgate.models.embedded import load_tokenizer
    from synthgate.training.budget import measure_records
    from synthgate.training.device import detect_capabilities, resolve_setup
    from synthgate.training.manifest import verify_export
    from synthgate.training.sft import read_split, split_files

    export = Path(export_dir)
    manifest = verify_export(export)
    train_file, eval_file = split_files(manifest, export)
    caps = capabilities or detect_capabilities()
    elsewhere = (config.device == "cuda" or config.quantization is not None) and not (
        caps.cuda and (caps.bitsandbytes or config.quantization is None)
    )
    if elsewhere:
        caps = Capabilities(cuda=True, bf16=config.precision != "fp16", bitsandbytes=True)
    setup = resolve_setup(config.device, config.precision, config.quantization, caps)
    lines = [setup.describe() + (" (planned for a GPU: this machine has none)" if elsewhere else "")]
    max_length = config.max_length or manifest.max_length
    if max_length == "auto":
        rows = read_split(export / train_file)
        if eval_file in manifest.files and manifest.files[eval_file].records:
            rows += read_split(export / eval_file)
        budget = measure_records(rows, load_tokenizer(base_model))
        max_length = budget.max_length
        lines += budget.describe()
    shape = read_shape(base_model)
    settings: dict[str, Any] = {
        "lora_r": config.lora_r,
        "max_length": max_length,
        "precision": setup.precision,
        "device": setup.device,
        "quantization": setup.quantization,
        "gradient_checkpointing": config.gradient_checkpointing,
        "target_modules": config.target_modules,
    }
    est = estimate(shape, batch=config.per_device_train_batch_size, **settings)
    fits = largest_batch(shape, memory_gib, **settings) if memory_gib is not None else None
    return lines + format_plan(est, memory_gib, fits)
