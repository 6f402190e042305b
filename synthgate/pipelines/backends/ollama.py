"""The `ollama` backend: Ollama's native /api/chat through the ollama client, with `think` and
`format` (the reply's JSON Schema) passed through."""

from __future__ import annotations

import time
from typing import Any

from pydantic import SecretStr

from synthgate.errors import ConfigError
from synthgate.pipelines.backends.base import Generation, PermanentError, TransientError
from synthgate.pipelines.config import BackendConfig

# SamplingParams name -> Ollama `options` name.
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "num_predict",
    "seed": "seed",
    "stop": "stop",
}


class OllamaBackend:
    """Chat through `ollama.Client`; thinking off unless the config turns it on."""

    def __init__(self, config: BackendConfig, api_key: SecretStr | None) -> None:
        if not config.model:
            raise ConfigError("the ollama backend needs `model` (e.g. qwen3:8b)")
        self.model = config.model
        self._config = config
        self._key = api_key
        self._client: Any = None

    def load(self) -> None:
        try:
            import httpx
            import ollama
        except ImportError:  # pragma: no cover
            raise ConfigError(
                "the ollama backend needs the ollama package", hint="pip install 'synthgate[generate]'"
            ) from None
        self._ollama, self._httpx = ollama, httpx
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"} if self._key else None
        self._client = ollama.Client(
            host=self._config.base_url, timeout=self._config.timeout_s, headers=headers
        )

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation:
        ollama, httpx = self._ollama, self._httpx
        options = {_OPTIONS[k]: v for k, v in params.items() if k in _OPTIONS}
        start = time.perf_counter()
        try:
            resp = self._client.chat(
                model=self.model,
                messages=messages,
                think=self._config.think,
                format=params.get("json_schema"),
                options=options or None,
            )
        except ollama.ResponseError as err:
            code = err.status_code
            if code == 429:
                raise TransientError("rate_limit", str(err)[:300]) from None
            if code >= 500:
                raise TransientError("server_error", f"HTTP {code}: {str(err)[:300]}") from None
            raise PermanentError(f"http_{code}", str(err)[:300]) from None
        except httpx.TimeoutException as err:
            raise TransientError("timeout", str(err)[:300] or "timed out") from None
        except (httpx.TransportError, ConnectionError) as err:
            raise TransientError("connection", str(err)[:300] or type(err).__name__) from None
        latency = time.perf_counter() - start
        usage = {}
        if resp.prompt_eval_count is not None:
            usage["prompt_tokens"] = resp.prompt_eval_count
        if resp.eval_count is not None:
            usage["completion_tokens"] = resp.eval_count
        return Generation(
            text=resp.message.content or "",
            reasoning=resp.message.thinking,
            finish_reason=resp.done_reason,
            usage=usage,
            latency_s=latency,
        )
