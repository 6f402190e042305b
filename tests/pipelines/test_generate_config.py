"""The generate config: the issue's minimal YAML as written, strictness, schema, secrets."""

# ruff: noqa: E501 (the issue's YAML is kept exactly as written)

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from synthgate.errors import ConfigError
from synthgate.pipelines.config import json_schema, load_generate_config

EXAMPLES = Path(__file__).resolve().parents[2] / "synthgate" / "pipelines" / "examples"

MINIMAL = """\
name: rag-qa
store: synthgate.duckdb
sources: {documents: ["docs/*.md"], chunk_chars: 1200, overlap_sentences: 1}
tasks: {grounded: 0.6, synthesis: 0.2, refusal: 0.2}
personas: builtin
teacher: {backend: openai, model: teacher-x, base_url: "http://127.0.0.1:8000/v1", api_key_env: OPENAI_API_KEY, params: {temperature: 0.7, max_tokens: 512}}
critic: {backend: openai, model: critic-x, base_url: "http://127.0.0.1:8000/v1", api_key_env: OPENAI_API_KEY, threshold: 3.5}
count: 40
concurrency: 8
max_length: 2048
"""


def test_the_issues_minimal_config_loads_as_written(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL)
    cfg = load_generate_config(path)
    assert (cfg.count, cfg.concurrency, cfg.teacher.params.sent()) == (
        40,
        8,
        {"temperature": 0.7, "max_tokens": 512},
    )
    assert cfg.critic is not None and cfg.critic.threshold == 3.5
    assert cfg.tasks.weights() == {"grounded": 0.6, "synthesis": 0.2, "refusal": 0.2}
    chain = cfg.chain_config()
    assert chain.length.max_length == 2048
    assert chain.order == [
        "thinking",
        "leakage",
        "looping",
        "artifacts",
        "secrets",
        "echo",
        "truncation",
        "format",
        "tools",
        "length",
    ]


def test_an_unknown_key_is_an_error_that_names_it(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL.replace("threshold: 3.5", "treshold: 3.5"))
    with pytest.raises(ConfigError, match=r"gen.yaml: critic.treshold: Extra inputs are not permitted"):
        load_generate_config(path)


def test_a_key_in_the_config_instead_of_a_variable_name_is_refused(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL.replace("api_key_env: OPENAI_API_KEY, params", "api_key: sk-abc, params"))
    with pytest.raises(ConfigError, match=r"teacher.api_key: Extra inputs are not permitted"):
        load_generate_config(path)


def test_the_api_key_is_read_from_the_named_variable_as_a_secret(tmp_path, monkeypatch):
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123")
    key = load_generate_config(path).teacher.resolve_api_key()
    assert (
        isinstance(key, SecretStr) and key.get_secret_value() == "sk-live-123" and "sk-live" not in repr(key)
    )
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match=r"environment variable OPENAI_API_KEY .* is not set") as err:
        load_generate_config(path).teacher.resolve_api_key()
    assert "export OPENAI_API_KEY" in err.value.hint


def test_the_committed_json_schema_matches_the_models():
    committed = json.loads((EXAMPLES / "generate_config.schema.json").read_text())
    assert committed == json_schema(), (
        "regenerate: python -c 'from synthgate.pipelines.config import json_schema'"
    )


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_config_is_valid(example):
    cfg = load_generate_config(EXAMPLES / example)
    assert cfg.count >= 1


def test_a_custom_weight_without_its_template_is_an_error(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL.replace("refusal: 0.2}", "refusal: 0.2, custom: 0.1}"))
    with pytest.raises(ConfigError, match=r"tasks: Value error, `custom` has a weight but no `custom_task`"):
        load_generate_config(path)


def test_the_length_check_counts_the_students_tokens(tmp_path):
    """max_length is the student's budget: the default student uses the embedded tokenizer, a local
    student folder its own, and a hub name with no local files is refused before any model loads."""
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL)
    assert load_generate_config(path).chain_config(tmp_path).length.tokenizer is None  # embedded Gemma
    (tmp_path / "models" / "my-llama").mkdir(parents=True)
    path.write_text(MINIMAL + "student: {model: models/my-llama}\n")
    assert load_generate_config(path).chain_config(tmp_path).length.tokenizer == str(
        tmp_path / "models" / "my-llama"
    )
    path.write_text(MINIMAL + "student: {model: meta-llama/Llama-3.2-1B}\n")
    config = load_generate_config(path)
    with pytest.raises(ConfigError, match=r"student.model 'meta-llama/Llama-3.2-1B' is not a local") as err:
        config.chain_config(tmp_path)
    assert "validators.length.tokenizer" in err.value.hint
    path.write_text(
        MINIMAL + "student: {model: meta-llama/Llama-3.2-1B}\nvalidators: {length: {tokenizer: tok/}}\n"
    )
    # Relative to the config file, like every path in it.
    assert load_generate_config(path).chain_config(tmp_path).length.tokenizer == str(tmp_path / "tok")


def test_a_run_identity_does_not_change_when_fields_are_added_with_defaults(tmp_path):
    """A rerun finds its run by this hash: new config fields left at their defaults (batch_size,
    llm_class, llm_kwargs) must not move it, or an interrupted run would start over."""
    path = tmp_path / "gen.yaml"
    path.write_text(MINIMAL)
    assert load_generate_config(path).identity() == "69de68537949525d"
    path.write_text(MINIMAL.replace("concurrency: 8", "concurrency: 32"))
    assert load_generate_config(path).identity() == "69de68537949525d"
    path.write_text(MINIMAL.replace("count: 40", "count: 41"))
    assert load_generate_config(path).identity() != "69de68537949525d"
