"""backend: distilabel: distilabel's OpenAILLM against the scripted server on 127.0.0.1, an
in-process distilabel class by dotted path, and the config errors that name what to fix."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from typing import Any, ClassVar

import pytest
from pipeline_helpers import base_config
from pydantic import SecretStr

from synthgate.errors import ConfigError
from synthgate.pipelines.backends import build_backend
from synthgate.pipelines.config import BackendConfig, load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store

# Importing distilabel swaps in rich tracebacks (with locals) for the whole process; keep pytest's.
_hook = sys.excepthook
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from distilabel.models import LLM
    from distilabel.models.llms.utils import prepare_output
sys.excepthook = _hook


def distilabel_config(url: str, **overrides: Any) -> dict[str, Any]:
    """The minimal config with both roles on distilabel's OpenAILLM (max_tokens is required)."""
    cfg = base_config(url, **overrides)
    for role in ("teacher", "critic"):
        if cfg.get(role):
            params = {**cfg[role].get("params", {}), "max_tokens": 512}
            cfg[role] = {**cfg[role], "backend": "distilabel", "llm_class": "OpenAILLM", "params": params}
    return cfg


def run(path):
    config = load_generate_config(path)
    with Store.open(path.parent / config.store) as store:
        return generate(config, store, base=path.parent)


def stored(tmp_path, run_id):
    with Store.open(tmp_path / "synthgate.duckdb") as store:
        return store.generations.summary(run_id), store.generations.requests(run_id)


def test_openaillm_teacher_and_critic_keep_count_and_store_each_request_without_the_key(
    llm_server, write_config, api_key, tmp_path, caplog
):
    server = llm_server()
    caplog.set_level("DEBUG")
    state = run(write_config(distilabel_config(server.url)))
    assert (state.status, state.kept, state.rejected, state.failed) == ("ok", 6, 0, 0)
    summary, requests = stored(tmp_path, state.run_id)
    assert summary["samples_by_status"] == {"kept": 6, "rejected": 0, "failed": 0}
    teacher = [r for r in requests if r.role == "teacher"]
    critic = [r for r in requests if r.role == "critic"]
    assert len(teacher) == len(critic) == 6
    assert {r.model for r in teacher} == {"teacher-x"} and {r.model for r in critic} == {"critic-x"}
    assert {(r.prompt_tokens, r.completion_tokens) for r in requests} == {(100, 40)}
    assert teacher[0].params == {"temperature": 0.7, "max_tokens": 512}
    # What distilabel cannot carry is stored as unknown, not guessed.
    assert {(r.finish_reason, r.reasoning) for r in requests} == {(None, None)}
    sent = [b for b in server.llm.bodies if b["model"] == "teacher-x"]
    assert {(b["max_tokens"], b["temperature"]) for b in sent} == {(512, 0.7)}
    assert "response_format" not in sent[0]
    # The server received the key, so the checks below would fail if it were stored or logged.
    assert any(h.get("authorization") == f"Bearer {api_key}" for h in server.llm.headers)
    for file in tmp_path.glob("synthgate.duckdb*"):
        assert api_key.encode() not in file.read_bytes()
    assert api_key not in caplog.text


def test_transient_faults_are_retried_by_synthgate_and_every_try_is_stored(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(teacher=[["429", "ok"], ["500", "500", "ok"], ["timeout", "ok"], ["drop", "ok"]])
    cfg = distilabel_config(server.url, count=5, concurrency=2, critic=None)
    cfg["teacher"]["timeout_s"] = 0.5
    state = run(write_config(cfg))
    assert (state.status, state.kept, state.failed) == ("ok", 5, 0)
    summary, requests = stored(tmp_path, state.run_id)
    assert summary["errors_by_kind"] == {"server_error": 2, "connection": 1, "rate_limit": 1, "timeout": 1}
    assert summary["attempts"] == 5 + 5
    # The SDK's own retries are off: the server saw exactly the tries the store holds.
    assert server.llm.teacher_requests == len(requests) == 10


def _openai_error(status: int) -> Exception:
    import httpx
    import openai

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx.Response(status, request=request, headers={"retry-after": "2"})
    cls = {400: openai.BadRequestError, 429: openai.RateLimitError, 503: openai.InternalServerError}[status]
    return cls("refused", response=response, body=None)


@pytest.mark.parametrize(
    ("make", "kind", "retried"),
    [
        (lambda: _openai_error(400), "http_400", False),
        (lambda: _openai_error(429), "rate_limit", True),
        (lambda: _openai_error(503), "server_error", True),
        (lambda: __import__("httpx").ConnectError("refused"), "connection", True),
        (lambda: TimeoutError("slow"), "timeout", True),
        (lambda: ValueError("bad input"), "ValueError", False),
    ],
)
def test_provider_exceptions_are_sorted_by_status_then_class_name(make, kind, retried):
    from synthgate.pipelines.backends.base import TransientError
    from synthgate.pipelines.backends.distilabel import _classify

    err = _classify(make())
    assert (err.kind, isinstance(err, TransientError)) == (kind, retried)
    if kind == "rate_limit":
        assert err.retry_after == 2.0


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        ({"llm_class": None}, r"teacher: Value error, backend distilabel needs `llm_class`"),
        ({"params": {"temperature": 0.7}}, r"backend distilabel needs params.max_tokens"),
        ({"llm_kwargs": {"api_key": "sk-x"}}, r"llm_kwargs \['api_key'\] are set from .*api_key_env"),
        (
            {"backend": "openai", "llm_kwargs": {}},
            r"`llm_class` and `llm_kwargs` apply to backend distilabel only, not openai",
        ),
    ],
)
def test_config_errors_name_the_key_to_fix(write_config, teacher, message):
    cfg = distilabel_config("http://127.0.0.1:9")
    cfg["teacher"] = {k: v for k, v in {**cfg["teacher"], **teacher}.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        load_generate_config(write_config(cfg))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"llm_class": "NoSuchLLM"}, r"llm_class 'NoSuchLLM' is not a distilabel LLM class"),
        ({"llm_class": "json.JSONDecoder"}, r"llm_class 'json.JSONDecoder' is not a distilabel LLM class"),
        ({"llm_class": "no_such_pkg.LLM"}, r"llm_class 'no_such_pkg.LLM': cannot import 'no_such_pkg'"),
        ({"llm_class": "MistralLLM"}, r"MistralLLM has no base_url field; remove `base_url`"),
        ({"llm_kwargs": {"temprature": 0.2}}, r"llm_class OpenAILLM: temprature: Extra inputs are not"),
        ({"params": {"max_tokens": 64, "seed": 1}}, r"OpenAILLM does not take \['seed'\]"),
        ({"llm_kwargs": {"generation_kwargs": {"top_k": 5}}}, r"OpenAILLM does not take \['top_k'\]"),
    ],
)
def test_load_errors_name_the_class_and_the_setting(api_key, fields, message):
    config = BackendConfig.model_validate(
        {
            "backend": "distilabel",
            "llm_class": "OpenAILLM",
            "model": "m",
            "base_url": "http://127.0.0.1:9/v1",
            "params": {"max_tokens": 64},
            **fields,
        }
    )
    with pytest.raises(ConfigError, match=message) as err:
        build_backend(config, SecretStr(api_key)).load()
    assert api_key not in str(err.value) + err.value.hint


# distilabel's RuntimeParameter fields make pydantic warn in every subclass.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")

    class EchoLLM(LLM):
        """An in-process distilabel LLM, as vLLM is: one `generate` call per batch of prompts."""

        model: str
        calls: ClassVar[list[tuple[int, dict[str, Any]]]] = []

        @property
        def model_name(self) -> str:
            return self.model

        def generate(self, inputs, num_generations=1, max_new_tokens=128, temperature=1.0):  # type: ignore[override]
            self.calls.append((len(inputs), {"max_new_tokens": max_new_tokens, "temperature": temperature}))
            return [
                prepare_output([f"echo: {m[-1]['content']}"], input_tokens=[len(m)], output_tokens=[3])
                for m in inputs
            ]


def test_an_in_process_class_by_dotted_path_decodes_concurrent_requests_in_batches():
    EchoLLM.calls.clear()
    config = BackendConfig(
        backend="distilabel",
        llm_class=f"{__name__}.EchoLLM",
        model="echo-1",
        params={"max_tokens": 32, "temperature": 0.0},
        batch_size=8,
    )
    backend = build_backend(config, None)
    backend.load()
    barrier, results = threading.Barrier(6), {}

    def ask(i: int) -> None:
        barrier.wait()
        results[i] = backend.generate([{"role": "user", "content": f"q{i}"}], config.params.sent())

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    backend.close()
    assert {i: g.text for i, g in results.items()} == {i: f"echo: q{i}" for i in range(6)}
    assert results[0].usage == {"prompt_tokens": 1, "completion_tokens": 3}
    assert results[0].finish_reason is None and backend.model == "echo-1"
    assert sum(n for n, _ in EchoLLM.calls) == 6 and max(n for n, _ in EchoLLM.calls) > 1
    assert {repr(kw) for _, kw in EchoLLM.calls} == {repr({"max_new_tokens": 32, "temperature": 0.0})}


def test_loading_distilabel_keeps_the_default_excepthook():
    # rich's hook with show_locals would print every local of a crashed frame, keys included.
    code = (
        "import sys; from synthgate.pipelines.backends import build_backend; "
        "from synthgate.pipelines.config import BackendConfig as C; "
        "build_backend(C(backend='distilabel', llm_class='OpenAILLM', model='m', "
        "base_url='http://127.0.0.1:9/v1', params={'max_tokens': 8}), None).load(); "
        "import distilabel; print(sys.excepthook is sys.__excepthook__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": "x"},
        check=True,
    )
    assert out.stdout.strip() == "True"
