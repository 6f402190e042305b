"""The `local` backend: a chat model run in-process with transformers (a local folder or a model
already in the Hugging Face cache; nothing is downloaded)."""

from __future__ import annotations

import threading
import time
from typing import Any

from synthgate.errors import ModelError
from synthgate.pipelines.backends.base import Generation
from synthgate.pipelines.config import BackendConfig


class LocalBackend:
    """transformers `generate` under a lock (one model, one forward pass at a time)."""

    def __init__(self, config: BackendConfig) -> None:
        if not config.model:
            # The embedded default teacher (Qwen2.5-Coder-0.5B-Instruct from pinned PyPI data
            # packages) is not wired in yet.
            raise ModelError(
                "backend: local without `model` would use the embedded default teacher, which is not "
                "available in this version",
                hint="Set teacher.model to a local model folder, or use backend: openai / ollama.",
            )
        self.model = config.model
        self._config = config
        self._lock = threading.Lock()

    def load(self) -> None:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ModelError(
                "the local backend needs transformers", hint="pip install 'synthgate[train]'"
            ) from None
        try:
            self._tok = AutoTokenizer.from_pretrained(self.model, local_files_only=True)
            self._lm = AutoModelForCausalLM.from_pretrained(self.model, local_files_only=True)
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot load local model {self.model!r}: {err}") from None

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation:
        start = time.perf_counter()
        # enable_thinking=False is Qwen3's switch; other templates ignore unknown variables.
        ids = self._tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", enable_thinking=self._config.think
        )
        max_new = int(params.get("max_tokens") or 512)
        temperature = float(params.get("temperature") or 0.0)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
        if temperature > 0:
            kwargs["temperature"] = temperature
        with self._lock:
            out = self._lm.generate(ids, **kwargs)
        new = out[0, ids.shape[1] :]
        text = self._tok.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= max_new else "stop"
        return Generation(
            text=text,
            finish_reason=finish,
            usage={"prompt_tokens": int(ids.shape[1]), "completion_tokens": int(len(new))},
            latency_s=time.perf_counter() - start,
        )
