"""The `openai` backend: the openai client against any OpenAI-compatible chat-completions server
(vLLM, llama.cpp server, LM Studio, SGLang, OpenAI)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import SecretStr

from synthgate.errors import ConfigError
from synthgate.pipelines.backends.base import (
    Generation,
    PermanentError,
    TransientError,
    retry_after,
    short_error,
)
from synthgate.pipelines.config import BackendConfig

# Local servers ignore the key, but the openai client refuses to start without one.
_NO_KEY = "not-needed"


class OpenAIBackend:
    """Chat completions through `openai.OpenAI`, with the SDK's own retries off (ours record each try)."""

    def __init__(self, config: BackendConfig, api_key: SecretStr | None) -> None:
        if not config.model:
            raise ConfigError("the openai backend needs `model` (the server's model name)")
        self.model = config.model
        self._config = config
        self._key = api_key
        self._client: Any = None

    def load(self) -> None:
        try:
            import openai
        except ImportError:  # pragma: no cover - openai is a core dependency of the generate extra
            raise ConfigError(
                "the openai backend needs the openai package", hint="pip install 'synthgate[generate]'"
            ) from None
        self._openai = openai
        key = self._key.get_secret_value() if self._key is not None else _NO_KEY
        self._client = openai.OpenAI(
            base_url=self._config.base_url, api_key=key, max_retries=0, timeout=self._config.timeout_s
        )

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation:
        openai = self._openai
        kwargs = dict(params)
        extra_body = dict(kwargs.pop("extra_body", {}) or {})
        # The reply schema is in the prompt; response_format json_schema is not supported by every
        # OpenAI-compatible server, so it is not sent.
        kwargs.pop("json_schema", None)
        if self._config.disable_thinking_kwargs and not self._config.think:
            extra_body.setdefault("chat_template_kwargs", {"enable_thinking": False})
        start = time.perf_counter()
        try:
            resp = self._client.chat.completions.create(
                model=self.model, messages=messages, extra_body=extra_body or None, **kwargs
            )
        except openai.RateLimitError as err:
            raise TransientError("rate_limit", short_error(err), retry_after(err)) from None
        except openai.APITimeoutError as err:
            raise TransientError("timeout", short_error(err)) from None
        except openai.APIConnectionError as err:
            raise TransientError("connection", short_error(err)) from None
        except openai.APIStatusError as err:
            if err.status_code >= 500 or err.status_code in (408, 409):
                raise TransientError("server_error", f"HTTP {err.status_code}: {short_error(err)}") from None
            raise PermanentError(f"http_{err.status_code}", short_error(err)) from None
        latency = time.perf_counter() - start
        if not resp.choices:
            raise TransientError("bad_response", "the server returned no choices")
        choice = resp.choices[0]
        message = choice.message
        extra = message.model_extra or {}
        # vLLM/SGLang put reasoning in `reasoning_content`, newer servers in `reasoning`; either
        # way it stays out of `text`, the only field samples are built from.
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        usage = {}
        if resp.usage is not None:
            usage = {
                "prompt_tokens": resp.usage.prompt_tokens,
                "completion_tokens": resp.usage.completion_tokens,
            }
        return Generation(
            text=message.content or "",
            reasoning=reasoning if isinstance(reasoning, str) else None,
            finish_reason=choice.finish_reason,
            usage=usage,
            latency_s=latency,
        )
