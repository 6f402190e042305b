"""`ServerPool`: one run's requests spread over several servers serving the same model.

A config names them as a list (`teacher.base_url: [http://a:8000/v1, http://b:8000/v1]`); the pool
is one backend to the pipeline, so the job plan, the retries, the per-job commits and resume are
the same as with one server. Each request goes to the server with the fewest requests in flight
among those not cooling down (ties go round-robin, so a lightly loaded pool still alternates).

A try that fails with a transient error (429, 5xx, timeout, dropped connection) marks its server:
it cools down for the role's backoff, doubling with each consecutive failure and reset by a
success, and the same thread's next try (`call_with_retries` retrying that request) goes to
another server when there is one. Every try is recorded as before, with the server it went to.
A permanent error (400, 401, unknown model) stays permanent: the request would fail anywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from synthgate.pipelines.backends.base import Backend, Generation, PermanentError, RetryPolicy, TransientError


@dataclass
class ServerState:
    """One server of a pool: its backend, requests in flight, and its cool-down after failures."""

    url: str
    backend: Backend
    in_flight: int = 0
    failures: int = 0  # consecutive transient failures
    cool_until: float = 0.0
    requests: int = 0


class ServerPool:
    """Several backends of one model behind the `Backend` seam (thread-safe)."""

    def __init__(
        self,
        servers: list[tuple[str, Backend]],
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(servers) < 2:
            raise ValueError("a server pool needs at least two servers")
        models = {b.model for _, b in servers}
        if len(models) != 1:
            raise ValueError(f"the servers of a pool serve one model, not {sorted(models)}")
        self.model = servers[0][1].model
        self.servers = [ServerState(url, backend) for url, backend in servers]
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0
        self._local = threading.local()  # the server this thread's last try failed on

    def load(self) -> None:
        for s in self.servers:
            s.backend.load()

    def close(self) -> None:
        for s in self.servers:
            close = getattr(s.backend, "close", None)
            if close is not None:
                close()

    def generate(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Generation:
        server = self._acquire()
        try:
            gen = server.backend.generate(messages, params)
        except TransientError as err:
            self._release(server, ok=False)
            self._local.avoid = server.url  # the retry of this request goes elsewhere
            message = f"{server.url}: {err}"
            raise TransientError(err.kind, message, err.retry_after, server=server.url) from None
        except PermanentError as err:
            self._release(server, ok=None)
            raise PermanentError(err.kind, f"{server.url}: {err}", server=server.url) from None
        except BaseException:
            self._release(server, ok=None)
            raise
        self._release(server, ok=True)
        self._local.avoid = None
        return replace(gen, server=server.url)

    def _acquire(self) -> ServerState:
        avoid = getattr(self._local, "avoid", None)
        with self._lock:
            now = self._clock()
            n = len(self.servers)
            order = [self.servers[(self._next + i) % n] for i in range(n)]
            self._next = (self._next + 1) % n
            candidates = [s for s in order if s.url != avoid] or order
            ready = [s for s in candidates if s.cool_until <= now]
            if ready:
                pick = min(ready, key=lambda s: s.in_flight)  # first of equals: round-robin order
            else:  # every other server is cooling down: the one back soonest
                pick = min(candidates, key=lambda s: s.cool_until)
            pick.in_flight += 1
            pick.requests += 1
            return pick

    def _release(self, server: ServerState, ok: bool | None) -> None:
        with self._lock:
            server.in_flight -= 1
            if ok is True:
                server.failures, server.cool_until = 0, 0.0
            elif ok is False:
                server.failures += 1
                p = self._policy
                server.cool_until = self._clock() + min(p.max_s, p.base_s * 2 ** (server.failures - 1))
