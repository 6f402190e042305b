"""The `distilabel` backend: any distilabel LLM class (`llm_class`) behind the backend seam.

For providers and engines synthgate has no native client for: vLLM in-process, Inference
Endpoints, Anthropic, Mistral, Groq, LiteLLM, ... The class is built with `model`, `base_url`,
the key from `api_key_env` and `timeout_s` where it has those fields, plus `llm_kwargs`, and its
SDK retries off (`max_retries=0`) so `call_with_retries` records every try. API classes run
`agenerate` on one event loop this backend owns (distilabel's own `generate` re-enters one loop
per LLM, which fails when the pipeline's threads call it at once); in-process classes (vLLM,
transformers, llama.cpp) get concurrent requests in batches of `batch_size`, one batch at a time.

What it loses against the native openai/ollama backends, since distilabel returns only the
generated strings and token counts: no finish_reason, so `loop.finish_reason_length` cannot fire
on a reply cut at max_tokens (the cut JSON usually fails as gen.invalid_json instead); no
separate reasoning field (a server's `reasoning_content` is dropped; inline <think> blocks still
reach the validators). A sampling parameter the class does not take is a config error, and one
left unset takes the class's default, not the server's (OpenAILLM sends temperature 1.0, top_p
1.0 and, without params.max_tokens, which the config therefore requires, 128 new tokens).
Provider exceptions are told apart by HTTP status and class name, not by type. Classes without
a `max_retries` field may still retry inside their SDK, unseen.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import math
import sys
import threading
import time
import warnings
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, get_args

from pydantic import SecretStr, ValidationError

from synthgate.errors import ConfigError, ModelError
from synthgate.pipelines.backends.base import (
    Generation,
    PermanentError,
    TransientError,
    retry_after,
    short_error,
)
from synthgate.pipelines.backends.batching import MicroBatcher, params_key
from synthgate.pipelines.config import BackendConfig

# SamplingParams name -> the names distilabel classes give it, in order of preference.
_PARAMS = {
    "temperature": ("temperature", "temp"),
    "top_p": ("top_p", "p"),
    "max_tokens": ("max_new_tokens", "max_tokens", "max_output_tokens"),
    "stop": ("stop", "stop_sequences"),
    "seed": ("seed",),
    "extra_body": ("extra_body",),
}
_GATHER_S = 0.05  # as the local backend: how long a batch waits for requests that arrive together


class DistilabelBackend:
    """A distilabel `LLM` built from the config; `generate` returns its first generation."""

    def __init__(self, config: BackendConfig, api_key: SecretStr | None) -> None:
        self.model = config.model or str(config.llm_class)
        self._config = config
        self._key = api_key
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batcher: MicroBatcher[Any, Any] | None = None

    def load(self) -> None:
        hook = sys.excepthook
        try:
            with warnings.catch_warnings():  # pydantic warns about distilabel's own field definitions
                warnings.simplefilter("ignore")
                from distilabel.models import LLM, AsyncLLM
        except ImportError:
            raise ConfigError(
                "the distilabel backend needs distilabel", hint="pip install 'synthgate[distilabel]'"
            ) from None
        finally:
            # distilabel installs rich tracebacks with show_locals on import: a crash would print
            # every local variable, keys included.
            sys.excepthook = hook
        cls = _resolve(str(self._config.llm_class), LLM)
        self._llm = _build(cls, self._config, self._key)
        method = self._llm.agenerate if isinstance(self._llm, AsyncLLM) else self._llm.generate
        self._accepted = set(inspect.signature(method).parameters)
        extra = set(self._llm.generation_kwargs or {}) - self._accepted
        missing = [k for k in self._config.params.sent() if not self._names(k)] + sorted(extra)
        if missing:
            raise ConfigError(
                f"{cls.__name__} does not take {missing}; remove them from params or generation_kwargs",
                hint=f"It takes: {', '.join(sorted(self._accepted - {'self', 'input', 'inputs'}))}.",
            )
        try:
            self._llm.load()
        except ImportError as err:
            raise ConfigError(
                f"{cls.__name__} cannot load: {err}", hint="Install the package it names."
            ) from None
        except Exception as err:
            raise ModelError(f"{cls.__name__} cannot load: {short_error(err)}") from None
        if isinstance(self._llm, AsyncLLM):
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="synthgate-distilabel", daemon=True).start()
        else:
            self._batcher = MicroBatcher(self._run_batch, self._config.batch_size, _GATHER_S, key=params_key)

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation:
        start = time.perf_counter()
        try:
            if self._batcher is not None:
                out = self._batcher.submit((messages, params))
            else:
                out = self._agenerate(messages, params)
        except (TransientError, PermanentError):
            raise
        except Exception as err:
            raise _classify(err) from None
        # distilabel 1.5: {"generations": [text | None], "statistics": {"input_tokens": [n],
        # "output_tokens": [n]}}; statistics keys are left out when the provider reports no usage.
        stats = out.get("statistics") or {}
        counts = {ours: _first(stats.get(theirs)) for ours, theirs in _USAGE.items()}
        usage = {k: v for k, v in counts.items() if v is not None}
        return Generation(
            text=out["generations"][0] or "", usage=usage, latency_s=time.perf_counter() - start
        )

    def close(self) -> None:
        """Stop the event loop or batcher, and let the class release what it holds (vLLM: the GPU)."""
        if self._batcher is not None:
            self._batcher.close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if hasattr(self, "_llm"):
            self._llm.unload()

    def _names(self, key: str) -> list[str]:
        return [n for n in _PARAMS.get(key, ()) if n in self._accepted]

    def _kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        # The reply schema is in the prompt, as with the openai backend; json_schema is not sent.
        sent = {self._names(k)[0]: v for k, v in params.items() if k != "json_schema" and self._names(k)}
        return {**(self._llm.generation_kwargs or {}), **sent}

    def _agenerate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> dict[str, Any]:
        kwargs = self._kwargs(params)
        if "num_generations" in self._accepted:
            kwargs["num_generations"] = 1
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(self._llm.agenerate(input=messages, **kwargs), self._loop)
        try:
            return fut.result(timeout=self._config.timeout_s)
        except FutureTimeout:
            fut.cancel()
            raise TransientError("timeout", f"no reply within {self._config.timeout_s}s") from None

    def _run_batch(self, items: list[tuple[list[dict[str, str]], dict[str, Any]]]) -> list[dict[str, Any]]:
        inputs = [messages for messages, _ in items]
        return self._llm.generate(inputs=inputs, num_generations=1, **self._kwargs(items[0][1]))


_USAGE = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}


def _resolve(name: str, base: type) -> type:
    """A class of distilabel.models by name, or any importable class by dotted path."""
    module, _, attr = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module or "distilabel.models"), attr, None)
    except ImportError as err:
        raise ConfigError(f"llm_class {name!r}: cannot import {module!r}: {err}") from None
    if not (inspect.isclass(cls) and issubclass(cls, base)) or inspect.isabstract(cls):
        import distilabel.models as dm

        known = [
            n
            for n in dm.__all__
            if inspect.isclass(c := getattr(dm, n)) and issubclass(c, base) and not inspect.isabstract(c)
        ]
        raise ConfigError(
            f"llm_class {name!r} is not a distilabel LLM class",
            hint=f"Name a class of distilabel.models ({', '.join(sorted(known))}) or pkg.module.Class.",
        )
    return cls


def _build(cls: type, config: BackendConfig, key: SecretStr | None) -> Any:
    fields = cls.model_fields  # type: ignore[attr-defined]
    kwargs: dict[str, Any] = {}
    if config.model is not None:
        # Classes without a model field (LlamaCppLLM: model_path) take it in llm_kwargs; then
        # `model` is only the name recorded with each request.
        for name in ("model", "model_id"):
            if name in fields:
                kwargs[name] = config.model
                break
    for name, value, setting in (("base_url", config.base_url, "base_url"), ("api_key", key, "api_key_env")):
        if value is None:
            continue
        if name not in fields:
            raise ConfigError(f"{cls.__name__} has no {name} field; remove `{setting}` from its config")
        kwargs[name] = value
    if "timeout" in fields:
        t = config.timeout_s
        kwargs["timeout"] = t if _takes_float(fields["timeout"].annotation) else math.ceil(t)
    if "max_retries" in fields:
        kwargs["max_retries"] = 0
    try:
        return cls.model_validate({**kwargs, **config.llm_kwargs})
    except ValidationError as err:
        # include_input=False: the key must not reach a message.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors(include_input=False)
        )
        raise ConfigError(f"llm_class {cls.__name__}: {problems}") from None


def _takes_float(annotation: Any) -> bool:
    return annotation is float or any(_takes_float(a) for a in get_args(annotation))


def _classify(err: BaseException) -> TransientError | PermanentError:
    """Retryable or not: by HTTP status where the SDK gives one, else by exception class names."""
    names = " ".join(c.__name__ for c in type(err).__mro__)
    response = getattr(err, "response", None)
    codes = (getattr(err, "status_code", None), getattr(response, "status_code", None))
    status = next((c for c in codes if isinstance(c, int)), None)
    msg = short_error(err)
    if "Timeout" in names:
        return TransientError("timeout", msg)
    if status == 429 or "RateLimit" in names:
        return TransientError("rate_limit", msg, retry_after(err))
    if status is not None and (status >= 500 or status in (408, 409)):
        return TransientError("server_error", f"HTTP {status}: {msg}")
    if status is not None:
        return PermanentError(f"http_{status}", msg)
    if isinstance(err, ConnectionError) or any(w in names for w in ("Connect", "Transport", "Disconnect")):
        return TransientError("connection", msg)
    return PermanentError(type(err).__name__, msg)


def _first(value: Any) -> int | None:
    value = value[0] if isinstance(value, list) and value else value
    return value if isinstance(value, int) else None
