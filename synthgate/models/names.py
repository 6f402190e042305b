"""Model names: one key for "is this the same model?", whatever way the name was written.

A model reaches synthgate as a hub id (`google/gemma-3-270m`), an Ollama tag (`gemma3:270m`), a
local folder (`/models/Qwen2.5-0.5B-Instruct`), a GGUF file (`gemma-3-270m-Q4_K_M.gguf`) or a
hub cache path. `generate` (teacher vs student) and `train` (base model vs the data's teachers)
both refuse self-distillation by comparing these keys, so they must agree.
"""

from __future__ import annotations

import re

# Weight-format suffixes and quantization tags say how a model is stored, not which model it is.
_EXTENSION = re.compile(r"\.(gguf|safetensors|bin|pt|pth)$")
_STORAGE_TAG = re.compile(r"[-_.:](gguf|q\d\w*|iq\d\w*|f16|bf16|f32|fp16|fp32|latest)$")
_HUB_CACHE = re.compile(r"^models--[^/]+--(.+)$")


def model_key(name: str) -> str:
    """A model name reduced for comparison: its last path part (or a hub cache folder's model name),
    lower case, without file extension, quantization tag or `:latest`, letters and digits only.

    >>> model_key("google/gemma-3-270m") == model_key("gemma3:270m") == model_key("gemma-3-270m-Q4_K_M.gguf")
    True
    >>> model_key("/models/Qwen2.5-0.5B-Instruct/") == model_key("qwen2.5:0.5b-instruct-q4_K_M")
    True
    >>> model_key("google/gemma-3-270m-it") == model_key("google/gemma-3-270m")
    False
    """
    parts = [p for p in name.strip().replace("\\", "/").split("/") if p]
    if not parts:
        return ""
    last = parts[-1]
    for part in reversed(parts):
        # ~/.cache/huggingface/hub/models--google--gemma-3-270m/snapshots/<hash>: the model is the folder.
        if m := _HUB_CACHE.match(part):
            last = m.group(1)
            break
    last = _EXTENSION.sub("", last.lower())
    while (stripped := _STORAGE_TAG.sub("", last)) != last:
        last = stripped
    return re.sub(r"[^a-z0-9]", "", last)
