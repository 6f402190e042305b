"""The student model: a causal LM and its tokenizer, from local files only.

`load_causal_lm(spec)` takes None/"default" (the embedded Gemma 3 270M), a Hugging Face model
folder, or a `.gguf` file. A GGUF is converted once into a cached safetensors folder, because
transformers de-quantizes GGUF weights on every load (1-2 min for 270M) and refuses to
`save_pretrained` a GGUF-loaded model:

    <cache_dir()>/gemma-3-270m/model/     the embedded model (`embedded_model_dir()`)
    <cache_dir()>/gguf-models/<key>/      models converted from user GGUF files

Each converted folder holds the weights, config, generation config and the tokenizer files with
its chat template, so it is self-contained: training, merging and llama.cpp conversion downstream
all read the same folder. Builds go through `embedded.build_once` (temp dir, rename, file lock).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from synthgate.errors import ModelError
from synthgate.models.embedded import (
    DEFAULT_SPECS,
    EMBEDDED_NAME,
    build_once,
    cache_dir,
    gemma_gguf_path,
    load_tokenizer,
)

# Gemma's chat turns end with <end_of_turn>, not <eos>: without it as a stop token a model trained
# on the turn template never stops generating (the official -it generation config lists both).
_GEMMA_END_OF_TURN = "<end_of_turn>"


def embedded_model_dir() -> Path:
    """The embedded Gemma 3 270M as a cached Hugging Face folder, converted from the GGUF once (~1-2 min)."""
    final = cache_dir() / EMBEDDED_NAME / "model"

    def build(tmp: Path) -> Path:
        out = tmp / "model"
        _convert_gguf_model(gemma_gguf_path(), out, load_tokenizer(None))
        return out

    return build_once(final, build)


def load_causal_lm(spec: str | os.PathLike[str] | None = None, **load_kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) from None/"default" (embedded Gemma), a model folder or a `.gguf` file.

    `load_kwargs` go to `from_pretrained` (dtype, quantization_config, device_map: see
    `synthgate.training.device.model_load_kwargs`). Nothing is downloaded
    (`local_files_only=True`); a failure raises ModelError naming the path.
    """
    folder = resolve_model_dir(spec)
    tokenizer = load_tokenizer(str(folder))
    model = _load_folder(folder, **load_kwargs)
    return model, tokenizer


def resolve_model_dir(spec: str | os.PathLike[str] | None = None) -> Path:
    """The local Hugging Face folder `spec` stands for, converting a GGUF into the cache first."""
    if spec in DEFAULT_SPECS:
        return embedded_model_dir()
    path = Path(spec).expanduser()  # type: ignore[arg-type]
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_model_dir(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return path
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return _gguf_model_dir(ggufs[0])
        hint = "Pass a Hugging Face model folder (config.json + weights), a .gguf file, or omit it."
        if (path / "adapter_config.json").is_file():
            hint = (
                "This is a LoRA adapter folder: pass its merged/ folder, or the base model it was trained on."
            )
        raise ModelError(f"{path} is not a model folder: it has no config.json", hint=hint)
    raise ModelError(
        f"model not found: {path} is neither a folder nor a .gguf file",
        hint="Pass a local model folder, a .gguf file, or omit it for the embedded Gemma 3 270M.",
    )


def _gguf_model_dir(gguf: Path) -> Path:
    # Keyed like embedded._gguf_tokenizer_dir: path, size and mtime, not a hash of GBs of weights.
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    final = cache_dir() / "gguf-models" / f"{gguf.stem}-{key}"

    def build(tmp: Path) -> Path:
        out = tmp / "model"
        _convert_gguf_model(gguf, out, load_tokenizer(str(gguf)))
        return out

    return build_once(final, build)


def _convert_gguf_model(gguf: Path, out: Path, tokenizer: Any) -> None:
    """De-quantize `gguf` into a safetensors folder at `out`, tokenizer files included."""
    from transformers import AutoModelForCausalLM

    try:
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
    except Exception as exc:  # the GGUF reader raises anything from KeyError to struct.error
        raise ModelError(
            f"could not read a model from the GGUF file {gguf}: {exc}",
            hint="Check that the file is a complete GGUF of an architecture transformers supports.",
        ) from exc
    config = loaded.config
    # The weights are de-quantized floats now; a leftover gguf quantization_config would make
    # transformers treat the folder as quantized on the next load.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # save_pretrained refuses a GGUF-loaded model, so copy the weights into a plain one.
    model = AutoModelForCausalLM.from_config(config, dtype=loaded.dtype)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    end_of_turn = tokenizer.convert_tokens_to_ids(_GEMMA_END_OF_TURN) if _is_gemma(tokenizer) else None
    if end_of_turn is not None:
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        model.generation_config.eos_token_id = eos + [t for t in [end_of_turn] if t not in eos]
    try:
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
    except OSError as exc:
        raise ModelError(f"could not write the converted model to {out}: {exc}") from exc


def _is_gemma(tokenizer: Any) -> bool:
    return _GEMMA_END_OF_TURN in tokenizer.get_vocab()


def _load_folder(folder: Path, **load_kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, **load_kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"could not load a causal LM from {folder}: {exc}",
            hint="The folder needs config.json and weights (safetensors); nothing is downloaded.",
        ) from exc
