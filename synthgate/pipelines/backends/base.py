"""The backend seam: `load()` + `generate(messages, params) -> Generation`, and retries around it.

Backends translate their SDK's failures into `TransientError` (429, 5xx, timeouts, dropped
connections: worth retrying) or `PermanentError` (400, 401, unknown model: not). `call_with_retries`
owns the policy (exponential backoff with full jitter) and reports every try, failed or not, so the
store sees each request the server saw.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from synthgate.errors import BackendError


@dataclass(frozen=True)
class Generation:
    """One response. `text` is the final content; `reasoning` is kept apart and never trained on."""

    text: str
    reasoning: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    server: str | None = None  # which server answered, when a run spreads requests over several


class TransientError(Exception):
    """A failure worth retrying; `kind` is rate_limit, server_error, timeout or connection."""

    def __init__(
        self, kind: str, message: str, retry_after: float | None = None, server: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.server = server


def short_error(err: Exception) -> str:
    """The first line of an SDK error (at most 300 characters), or its type when it has no text."""
    return str(err).splitlines()[0][:300] if str(err) else type(err).__name__


def retry_after(err: Any) -> float | None:
    """Seconds from an HTTP error's Retry-After header, when the SDK error carries its response."""
    try:
        return float(err.response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None


class PermanentError(Exception):
    """A failure retrying will not fix (bad request, authentication, unknown model)."""

    def __init__(self, kind: str, message: str, server: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.server = server


class Backend(Protocol):
    """What the pipeline needs from a model: load once, then generate (thread-safe)."""

    model: str

    def load(self) -> None: ...

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation: ...


@dataclass(frozen=True)
class Try:
    """One request as sent, and what came back (a Generation, or an error kind and message).

    `retry` counts transport retries of one request (0 = first send; 429/5xx/timeout send it again).
    """

    retry: int
    generation: Generation | None
    error_kind: str | None
    error: str | None
    latency_s: float
    server: str | None = None  # the server the try went to, when there are several


@dataclass(frozen=True)
class RetryPolicy:
    """Retries after the first try, and the backoff: base * 2**n, capped, with full jitter."""

    max_retries: int = 5
    base_s: float = 0.5
    max_s: float = 30.0

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        # Full jitter (AWS architecture blog): spreads clients that failed together.
        cap = min(self.max_s, self.base_s * 2**retry)
        delay = rng.uniform(0, cap)
        return max(delay, retry_after or 0.0)


def call_with_retries(
    backend: Backend,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    policy: RetryPolicy,
    record: Callable[[Try], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Generation:
    """One generation, retried on transient failures; BackendError once retries are spent.

    `record` is called once per try (success or failure) before the next one starts.
    """
    rng = random.Random()
    for retry in range(policy.max_retries + 1):
        start = time.perf_counter()
        try:
            gen = backend.generate(messages, params)
        except TransientError as err:
            record(Try(retry, None, err.kind, str(err), time.perf_counter() - start, err.server))
            if retry == policy.max_retries:
                raise BackendError(
                    f"{backend.model}: {err.kind} after {retry + 1} tries: {err}",
                    hint="Check that the server is up and not overloaded; raise max_retries or timeout_s.",
                ) from None
            sleep(policy.delay(retry, rng, err.retry_after))
            continue
        except PermanentError as err:
            record(Try(retry, None, err.kind, str(err), time.perf_counter() - start, err.server))
            raise BackendError(f"{backend.model}: {err.kind}: {err}") from None
        record(Try(retry, gen, None, None, gen.latency_s, gen.server))
        return gen
    raise AssertionError("unreachable")
