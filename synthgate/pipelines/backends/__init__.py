"""LLM backends behind one small seam (`base.Backend`): openai, ollama, local (transformers), distilabel.

distilabel is the engine where it serves: `backend: distilabel` is the provider adapter for
everything synthgate has no native client for (vLLM in-process, Inference Endpoints, Anthropic,
Mistral, Groq, LiteLLM, ...), any of its LLM classes named by `llm_class`.

Why openai and ollama stay native: distilabel's `OpenAILLM` and `OllamaLLM` (1.5.3, frozen
upstream) return only the generated strings and token counts. They drop `finish_reason` (the
loop validator needs it), the separate reasoning field (which must be kept apart from the
sample), per-try errors and latencies, and they retry inside the SDK client where no try can be
recorded; `OllamaLLM` cannot pass `think`. Resumability and "store every request" need all of
that, so those two backends call the provider SDK the way distilabel does (same clients, same
message format) and return a `Generation` carrying everything; the distilabel backend turns SDK
retries off where the class allows and states what it cannot carry (`backends/distilabel.py`).
Provider SDKs are imported lazily, inside each backend's `load()`.
"""

from __future__ import annotations

from pydantic import SecretStr

from synthgate.pipelines.backends.base import (
    Backend,
    Generation,
    PermanentError,
    RetryPolicy,
    TransientError,
    Try,
    call_with_retries,
)
from synthgate.pipelines.config import BackendConfig


def build_backend(config: BackendConfig, api_key: SecretStr | None) -> Backend:
    """The backend named by `config.backend`, not yet loaded; a `ServerPool` of one per server when
    `base_url` lists several."""
    servers = config.servers()
    if len(servers) > 1:
        from synthgate.pipelines.backends.pool import ServerPool

        one = [(url, _build_one(config.model_copy(update={"base_url": url}), api_key)) for url in servers]
        return ServerPool(one, retry_policy(config))  # type: ignore[arg-type]
    if isinstance(config.base_url, list):
        config = config.model_copy(update={"base_url": servers[0]})
    return _build_one(config, api_key)


def _build_one(config: BackendConfig, api_key: SecretStr | None) -> Backend:
    if config.backend == "openai":
        from synthgate.pipelines.backends.openai import OpenAIBackend

        return OpenAIBackend(config, api_key)
    if config.backend == "ollama":
        from synthgate.pipelines.backends.ollama import OllamaBackend

        return OllamaBackend(config, api_key)
    if config.backend == "distilabel":
        from synthgate.pipelines.backends.distilabel import DistilabelBackend

        return DistilabelBackend(config, api_key)
    from synthgate.pipelines.backends.local import LocalBackend

    return LocalBackend(config)


def retry_policy(config: BackendConfig) -> RetryPolicy:
    return RetryPolicy(max_retries=config.max_retries, base_s=config.backoff_s, max_s=config.backoff_max_s)


__all__ = [
    "Backend",
    "Generation",
    "PermanentError",
    "RetryPolicy",
    "TransientError",
    "Try",
    "build_backend",
    "call_with_retries",
    "retry_policy",
]
