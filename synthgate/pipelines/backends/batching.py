"""`MicroBatcher`: turns concurrent blocking calls into batched calls of one function.

Worker threads call `submit(item)` and block; one background thread takes the first waiting item,
gathers others that arrive within `gather_s` (up to `max_batch`, and only those with the same
`key`), calls `run(items)` once and hands each caller its own result, or the batch's exception.
Written here rather than taken from a library: the batching servers that do this (vLLM, TGI,
Ray Serve's `@serve.batch`) are whole serving stacks; the pipeline needs forty lines in-process.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_STOP = object()


class MicroBatcher(Generic[T, R]):
    """Batch concurrent `submit` calls into `run(list_of_items) -> list_of_results` calls."""

    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        max_batch: int,
        gather_s: float,
        key: Callable[[T], Hashable] = lambda item: None,
    ) -> None:
        self._run = run
        self._max = max(1, max_batch)
        self._gather_s = gather_s
        self._key = key
        self._queue: queue.Queue[Any] = queue.Queue()
        self._held: list[tuple[T, Future[R]]] = []  # items of another key, first in the next batch
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.batch_sizes: list[int] = []  # for tests and benchmarks: how calls were grouped

    def submit(self, item: T) -> R:
        """`run([item, ...])`'s result for `item`; re-raises what `run` raised."""
        fut: Future[R] = Future()
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._ensure_thread()
            self._queue.put((item, fut))
        return fut.result()

    def close(self) -> None:
        """Finish the batch being run, then fail whatever still waits; later submits raise."""
        with self._start_lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="synthgate-batcher", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._held.pop(0) if self._held else self._queue.get()
            if first is _STOP or self._closed:
                if first is not _STOP:
                    self._held.insert(0, first)
                self._fail_waiting()
                return
            batch = [first]
            key = self._key(first[0])
            held, self._held = self._held, []
            for item in held:
                (batch if self._key(item[0]) == key and len(batch) < self._max else self._held).append(item)
            deadline = time.monotonic() + self._gather_s
            stop = False
            while len(batch) < self._max:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                if self._key(nxt[0]) == key:
                    batch.append(nxt)
                else:
                    self._held.append(nxt)
            self._call(batch)
            if stop:
                self._fail_waiting()
                return

    def _fail_waiting(self) -> None:
        err = RuntimeError("the batcher was closed before this request ran")
        waiting = self._held
        self._held = []
        while True:
            try:
                waiting.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for entry in waiting:
            if entry is not _STOP:
                entry[1].set_exception(err)

    def _call(self, batch: list[tuple[T, Future[R]]]) -> None:
        self.batch_sizes.append(len(batch))
        try:
            results = self._run([item for item, _ in batch])
        except BaseException as err:  # every caller sees the batch's failure
            for _, fut in batch:
                fut.set_exception(err)
            return
        if len(results) != len(batch):
            err = RuntimeError(f"batched call returned {len(results)} results for {len(batch)} items")
            for _, fut in batch:
                fut.set_exception(err)
            return
        for (_, fut), result in zip(batch, results, strict=True):
            fut.set_result(result)


def params_key(item: tuple[Any, dict[str, Any]]) -> str:
    """Batch key of a (messages, params) request: requests batch together only when every sampling
    parameter matches (`json_schema` is in the prompt, not a decoding setting)."""
    return repr(sorted((k, repr(v)) for k, v in item[1].items() if k != "json_schema"))
