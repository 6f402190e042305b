"""MicroBatcher: concurrent blocking calls grouped into batched calls, each caller getting its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from synthgate.pipelines.backends.batching import MicroBatcher


class Recorder:
    def __init__(self, delay_s: float = 0.0, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.calls.append(list(items))
        time.sleep(self.delay_s)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [i * 10 for i in items]


def _submit_all(batcher: MicroBatcher, items: list[int]) -> list[object]:
    def one(i: int) -> object:
        try:
            return batcher.submit(i)
        except Exception as err:  # noqa: BLE001 - the test inspects what each caller saw
            return err

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(one, items))


def test_concurrent_calls_run_as_one_batch_and_each_caller_gets_its_own_result():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, gather_s=0.5)
    results = _submit_all(batcher, list(range(8)))
    assert results == [i * 10 for i in range(8)]
    assert len(run.calls) < 8, run.calls  # grouped, not one call per request
    assert sorted(i for call in run.calls for i in call) == list(range(8))
    batcher.close()


def test_a_batch_never_exceeds_max_batch():
    run = Recorder(delay_s=0.05)
    batcher = MicroBatcher(run, max_batch=3, gather_s=0.3)
    assert _submit_all(batcher, list(range(10))) == [i * 10 for i in range(10)]
    assert max(len(c) for c in run.calls) == 3
    assert batcher.batch_sizes == [len(c) for c in run.calls]
    batcher.close()


def test_items_with_different_keys_never_share_a_batch():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=16, gather_s=0.3, key=lambda i: i % 2)
    assert _submit_all(batcher, list(range(12))) == [i * 10 for i in range(12)]
    for call in run.calls:
        assert len({i % 2 for i in call}) == 1, run.calls
    batcher.close()


def test_a_failing_batch_fails_its_callers_only_and_the_batcher_goes_on():
    run = Recorder(fail_on=3)
    batcher = MicroBatcher(run, max_batch=1, gather_s=0.0)
    results = _submit_all(batcher, [1, 2, 3, 4])
    assert [type(r) for r in results] == [int, int, ValueError, int]
    assert "bad item 3" in str(results[2])
    assert batcher.submit(5) == 50
    batcher.close()


def test_a_run_that_returns_the_wrong_number_of_results_fails_every_caller():
    batcher = MicroBatcher(lambda items: items[:-1], max_batch=4, gather_s=0.3)
    results = _submit_all(batcher, [1, 2])
    assert all(isinstance(r, RuntimeError) and "1 results for 2 items" in str(r) for r in results), results
    batcher.close()


def test_close_fails_what_still_waits_and_refuses_new_work():
    started = threading.Event()
    release = threading.Event()

    def slow(items: list[int]) -> list[int]:
        started.set()
        release.wait(5)
        return items

    batcher = MicroBatcher(slow, max_batch=1, gather_s=0.0)
    with ThreadPoolExecutor(max_workers=3) as pool:
        running = pool.submit(batcher.submit, 1)
        assert started.wait(5)
        waiting = pool.submit(batcher.submit, 2)
        time.sleep(0.1)  # the second request is queued behind the running one
        batcher.close()
        release.set()
        assert running.result(5) == 1  # the batch in progress finishes
        with pytest.raises(RuntimeError, match="closed before this request ran"):
            waiting.result(5)
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(3)
