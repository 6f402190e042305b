"""The `local` backend: a chat model run in-process with transformers, on CPU.

`model` is a Hugging Face model folder, a `.gguf` file (converted once into the cache, as the
student is), or the name of a model already in the Hugging Face cache; with no `model` it is the
embedded teacher, Qwen2.5-Coder-0.5B-Instruct (`pipelines.embedded_teacher`). Nothing is downloaded.
Prompts go through the model's own chat template; `temperature` 0 or unset is greedy decoding.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from synthgate.errors import ModelError
from synthgate.pipelines.backends.base import Generation
from synthgate.pipelines.config import BackendConfig
from synthgate.pipelines.embedded_teacher import TEACHER_NAME, teacher_model_dir

# oneDNN's AMX kernels die with "Illegal instruction" on some Xeons; cap the ISA before torch
# runs its first kernel (a no-op when the caller already set it).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")


class LocalBackend:
    """transformers `generate` under a lock (one model, one forward pass at a time)."""

    def __init__(self, config: BackendConfig) -> None:
        # The embedded teacher is recorded under its name, not a cache path that differs per machine.
        self.model = config.model or TEACHER_NAME
        self._config = config
        self._lock = threading.Lock()

    def load(self) -> None:
        try:
            import torch  # noqa: F401  (the error below names what is missing)
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ModelError("the local backend needs torch and transformers") from None
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
        import torch

        start = time.perf_counter()
        # enable_thinking=False is Qwen3's switch; other templates ignore unknown variables.
        enc = self._tok.apply_chat_template(
            messages,
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
            enable_thinking=self._config.think,
        )
        max_new = int(params.get("max_tokens") or 512)
        temperature = float(params.get("temperature") or 0.0)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
        if temperature > 0:
            kwargs["temperature"] = temperature
            if params.get("top_p") is not None:
                kwargs["top_p"] = float(params["top_p"])
        else:
            # Greedy: clear the sampling defaults a model's generation_config may carry.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.get("stop"):
            kwargs.update(stop_strings=list(params["stop"]), tokenizer=self._tok)
        with self._lock, torch.inference_mode():
            if temperature > 0 and params.get("seed") is not None:
                torch.manual_seed(int(params["seed"]))
            out = self._lm.generate(**enc, **kwargs)
        prompt_len = int(enc["input_ids"].shape[1])
        new = out[0, prompt_len:]
        eos = self._lm.generation_config.eos_token_id
        eos_ids = {eos} if isinstance(eos, int) else set(eos or [])
        ended = len(new) > 0 and int(new[-1]) in eos_ids
        text = self._tok.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= max_new and not ended else "stop"
        return Generation(
            text=text,
            finish_reason=finish,
            usage={"prompt_tokens": prompt_len, "completion_tokens": int(len(new))},
            latency_s=time.perf_counter() - start,
        )
