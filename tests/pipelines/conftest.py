"""Fixtures: small real documents, a config writer, and a scripted LLM server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from llm_server import LLMServer, ScriptedLLM
from pipeline_helpers import DOCS


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def write_config(tmp_path: Path, docs_dir: Path) -> Callable[[dict[str, Any]], Path]:
    def write(cfg: dict[str, Any]) -> Path:
        path = tmp_path / "generate.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "sk-test-Zq9VbN3xK7pLm2Rt8WcY4hJd"
    monkeypatch.setenv("OPENAI_API_KEY", value)
    return value


@pytest.fixture
def llm_server() -> Iterator[Callable[..., LLMServer]]:
    started: list[LLMServer] = []

    def start(**kwargs: Any) -> LLMServer:
        server = LLMServer(ScriptedLLM(**kwargs)).__enter__()
        started.append(server)
        return server

    yield start
    for s in started:
        s.__exit__(None, None, None)
