"""Every list of names in a config (the chain's validators, code prefixes in severity overrides and
a gate's block codes) is checked when the file is parsed; the error names the file and the key."""

from __future__ import annotations

import pytest
import yaml

from synthgate.config import load_chain_config
from synthgate.errors import ConfigError
from synthgate.pipelines.config import load_generate_config
from synthgate.schemas.chain_config import DEFAULT_ORDER, VALIDATOR_NAMES, ChainConfig
from synthgate.training.gate import load_policy
from synthgate.validators.chain import REGISTRY


def write(path, data):
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def generate_config(**extra):
    return {
        "name": "x",
        "sources": {"topics": ["LoRA"]},
        "teacher": {"backend": "ollama", "model": "qwen2.5:7b-instruct"},
        "count": 1,
        **extra,
    }


def test_the_names_a_chain_may_use_are_exactly_the_registered_validators():
    assert set(VALIDATOR_NAMES) == set(REGISTRY)
    assert ChainConfig().order == DEFAULT_ORDER


def test_a_misspelled_validator_in_the_chain_order_names_the_file_key_and_choices(tmp_path):
    path = write(tmp_path / "chain.yaml", {"order": ["thinking", "leakge", "length"]})
    with pytest.raises(ConfigError, match=r"chain\.yaml: order\.1: Input should be 'thinking', 'leakage'"):
        load_chain_config(path)


def test_a_validator_named_twice_in_the_chain_order_is_an_error(tmp_path):
    path = write(tmp_path / "chain.yaml", {"order": ["echo", "length", "echo"]})
    with pytest.raises(ConfigError, match=r"chain\.yaml: order: Value error, names echo more than once"):
        load_chain_config(path)


def test_an_unknown_code_prefix_in_severity_overrides_names_the_file_and_key(tmp_path):
    path = write(tmp_path / "chain.yaml", {"severity_overrides": {"dup.": "warn", "dupe.": "block"}})
    with pytest.raises(
        ConfigError, match=r"chain\.yaml: severity_overrides: unknown reason code or code prefix 'dupe\.'"
    ):
        load_chain_config(path)


def test_known_codes_and_family_prefixes_in_severity_overrides_load(tmp_path):
    overrides = {"dup.": "warn", "leak.system_prompt_verbatim": "warn"}
    path = write(tmp_path / "chain.yaml", {"severity_overrides": overrides})
    assert load_chain_config(path).severity_overrides == overrides


def test_a_misspelled_validator_in_a_generate_config_names_the_file_and_key(tmp_path):
    path = write(tmp_path / "gen.yaml", generate_config(validators={"order": ["thinking", "loopin"]}))
    with pytest.raises(ConfigError, match=r"gen\.yaml: validators\.order\.1: Input should be 'thinking'"):
        load_generate_config(path)


def test_an_unknown_override_code_in_a_generate_config_names_the_file_and_key(tmp_path):
    config = generate_config(validators={"severity_overrides": {"loops.": "warn"}})
    path = write(tmp_path / "gen.yaml", config)
    with pytest.raises(
        ConfigError,
        match=r"gen\.yaml: .*validators\.severity_overrides: unknown reason code .*'loops\.'",
    ):
        load_generate_config(path)


def test_an_unknown_block_code_in_a_gate_policy_names_the_file_and_key(tmp_path):
    path = write(tmp_path / "gate.yaml", {"block_codes": ["leak.", "artefact."]})
    with pytest.raises(
        ConfigError, match=r"gate\.yaml: block_codes: Value error, unknown reason code .*'artefact\.'"
    ):
        load_policy(path)
