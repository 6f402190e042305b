"""The `local` backend: a chat model run in-process with transformers, on CPU.

`model` is a Hugging Face model folder, a `.gguf` file (converted once into the cache, as the
student is), or the name of a model already in the Hugging Face cache; with no `model` it is the
embedded teacher, Qwen2.5-Coder-0.5B-Instruct (`pipelines.embedded_teacher`). Nothing is downloaded.
Prompts go through the model's own chat template; `temperature` 0 or unset is greedy decoding.

Concurrent requests are decoded together: the pipeline's worker threads each call `generate`, and
a `MicroBatcher` gathers what arrives together (up to `batch_size`) into one left-padded
`model.generate` call. On CPU one decoding step reads every weight once whatever the batch, so a
batch of 8 writes several times the tokens per second of 8 calls in turn.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from synthgate.errors import ModelError
from synthgate.pipelines.backends.base import Generation
from synthgate.pipelines.backends.batching import MicroBatcher, params_key
from synthgate.pipelines.config import BackendConfig
from synthgate.pipelines.embedded_teacher import TEACHER_NAME, teacher_model_dir

# oneDNN's AMX kernels die with "Illegal instruction" on some Xeons; cap the ISA before torch
# runs its first kernel (a no-op when the caller already set it).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

# How long the batcher waits for more requests to join one that has arrived: short beside a
# generation (seconds on CPU), long enough for workers that finished together to submit together.
_GATHER_S = 0.05


class LocalBackend:
    """transformers `generate` on batches of concurrent requests (one batch at a time)."""

    def __init__(self, config: BackendConfig) -> None:
        # The embedded teacher is recorded under its name, not a cache path that differs per machine.
        self.model = config.model or TEACHER_NAME
        self._config = config
        self._batcher = MicroBatcher(self._generate_batch, config.batch_size, _GATHER_S, key=params_key)

    def load(self) -> None:
        try:
            import torch  # noqa: F401  (the error below names what is missing)
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ModelError(
                "the local backend needs torch and transformers", hint="pip install 'synthgate[local]'"
            ) from None
        folder = self._folder()
        try:
            self._tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self._lm = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as err:
            raise ModelError(
                f"cannot load local model {self.model!r}: {err}",
                hint="Pass a model folder (config.json + weights), a .gguf file, or a model already in "
                "the Hugging Face cache; nothing is downloaded.",
            ) from None
        if not getattr(self._tok, "chat_template", None):
            raise ModelError(
                f"local model {self.model!r} has no chat template",
                hint="Use an instruction-tuned (chat) model: the teacher is prompted with chat turns.",
            )
        self._tok.padding_side = "left"  # new tokens line up at the right edge of every row
        if self._tok.pad_token_id is None:
            # Left padding needs a pad id; masked positions never reach the output.
            self._tok.pad_token = self._tok.eos_token
        self._lm.eval()

    def _folder(self) -> str:
        if self._config.model is None:
            return str(teacher_model_dir())
        path = Path(self._config.model).expanduser()
        if path.exists():
            from synthgate.models.student import resolve_model_dir

            return str(resolve_model_dir(path))
        return self._config.model  # a Hugging Face hub id, resolved from the local cache only

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation:
        """One reply; blocks while it is decoded, together with whatever else arrived with it."""
        return self._batcher.submit((messages, params))

    def close(self) -> None:
        self._batcher.close()

    def _generate_batch(self, items: list[tuple[list[dict[str, str]], dict[str, Any]]]) -> list[Generation]:
        """Decode requests that share their sampling parameters (`params_key`) in one call."""
        import torch

        start = time.perf_counter()
        params = items[0][1]
        # enable_thinking=False is Qwen3's switch; other templates ignore unknown variables.
        prompts = [
            self._tok.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False, enable_thinking=self._config.think
            )
            for messages, _ in items
        ]
        # The template already wrote the special tokens (BOS, turn markers).
        enc = self._tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        max_new = int(params.get("max_tokens") or 512)
        kwargs = _decoding_kwargs(params, max_new)
        if params.get("stop"):
            kwargs.update(stop_strings=list(params["stop"]), tokenizer=self._tok)
        with torch.inference_mode():
            if kwargs["do_sample"] and params.get("seed") is not None:
                torch.manual_seed(int(params["seed"]))
            out = self._lm.generate(**enc, **kwargs, pad_token_id=self._tok.pad_token_id)
        latency = time.perf_counter() - start
        width = int(enc["input_ids"].shape[1])
        eos = self._lm.generation_config.eos_token_id
        eos_ids = {eos} if isinstance(eos, int) else set(eos or [])
        results = []
        for row, mask in zip(out, enc["attention_mask"], strict=True):
            new = [int(t) for t in row[width:]]
            end = next((i for i, t in enumerate(new) if t in eos_ids), None)
            # Rows that finished early are padded to the batch's length: cut at their first EOS.
            kept = new if end is None else new[:end]
            ended = end is not None
            results.append(
                Generation(
                    text=self._tok.decode(kept, skip_special_tokens=True),
                    finish_reason="length" if len(kept) >= max_new and not ended else "stop",
                    usage={"prompt_tokens": int(mask.sum()), "completion_tokens": len(kept) + int(ended)},
                    latency_s=latency,
                )
            )
        return results


def _decoding_kwargs(params: dict[str, Any], max_new: int) -> dict[str, Any]:
    temperature = float(params.get("temperature") or 0.0)
    kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
    if temperature > 0:
        kwargs["temperature"] = temperature
        if params.get("top_p") is not None:
            kwargs["top_p"] = float(params["top_p"])
    else:
        # Greedy: clear the sampling defaults a model's generation_config may carry.
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs
