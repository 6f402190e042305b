"""The committed JSON Schemas match the models, and the record schemas agree with the adapters."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from synthgate.schemas import export_json
from synthgate.schemas.adapters import FORMATS, accepted_keys, to_sample
from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.schemas.verdict import Verdict

REGENERATE = "run `python -m synthgate.schemas.export_json` and commit synthgate/schemas/json/"


def committed(name: str) -> dict:
    return json.loads((export_json.JSON_DIR / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(export_json.schemas()))
def test_committed_schema_equals_freshly_generated(name):
    path = export_json.JSON_DIR / name
    assert path.exists(), f"{name} is missing: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == export_json.render(export_json.schemas()[name]), (
        f"{name} is stale: {REGENERATE}"
    )


def test_check_mode_reports_a_stale_file_and_write_mode_fixes_it(tmp_path):
    assert export_json.write(tmp_path) == list(export_json.schemas())
    (tmp_path / "verdict.schema.json").write_text("{}\n", encoding="utf-8")
    assert export_json.stale_files(tmp_path) == ["verdict.schema.json"]
    assert export_json.write(tmp_path) == ["verdict.schema.json"]
    assert export_json.stale_files(tmp_path) == []
    assert export_json.main(["--check"]) == 0  # the committed files


def test_every_committed_schema_is_a_valid_2020_12_schema():
    for name in export_json.schemas():
        Draft202012Validator.check_schema(committed(name))


def test_model_schemas_accept_model_dumps():
    sample = Sample(prompt=[Message(role="user", content="Q?")], completion="A.")
    verdict = Verdict(validator="leakage", status="fail", code="leak.configured_text", message="m")
    for name, obj in [
        ("sample.schema.json", sample),
        ("verdict.schema.json", verdict),
        ("chain_config.schema.json", ChainConfig()),
    ]:
        Draft202012Validator(committed(name)).validate(obj.model_dump(mode="json"))
    assert not Draft202012Validator(committed("chain_config.schema.json")).is_valid({"leakage": {"typo": 1}})


@pytest.mark.parametrize("fmt", FORMATS)
def test_record_schema_properties_are_exactly_the_keys_the_adapter_accepts(fmt):
    schema = committed(f"record.{fmt}.schema.json")
    variants = (
        [schema["$defs"][ref["$ref"].split("/")[-1]] for ref in schema["anyOf"]]
        if "anyOf" in schema
        else [schema]
    )
    for variant in variants:
        assert set(variant["properties"]) == set(accepted_keys(fmt))
        assert variant["additionalProperties"] is False


USER = {"role": "user", "content": "Hi?"}
ANSWER = {"role": "assistant", "content": "Hello."}

VALID = {
    "messages": [
        {"messages": [{"role": "system", "content": "S."}, {**USER, "name": "ann"}, ANSWER], "id": 7},
        {"messages": [USER, {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]}]},
    ],
    "prompt-completion": [
        {"prompt": "Q?", "completion": "A.", "task_type": "grounded"},
        {"prompt": [USER], "completion": [ANSWER], "metadata": {"batch": 1}},
    ],
    "alpaca": [
        {"instruction": "Do.", "input": "", "output": "Done."},
        {"instruction": "Do.", "output": "Done.", "system": "S.", "history": [["q", "a"]]},
    ],
    "sharegpt": [
        {
            "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}],
            "system": "S.",
        },
    ],
}

INVALID = {
    "messages": [
        {"messages": [USER, ANSWER], "score": 1},  # unknown key
        {"messages": [USER, {"role": "bot", "content": "x"}]},  # unknown role
        {"messages": [USER, {"role": "assistant", "content": [{"type": "image_url"}]}]},
    ],
    "prompt-completion": [
        {"prompt": [USER], "completion": "A."},  # mixed plain and conversational
        {"prompt": [USER], "completion": [ANSWER, ANSWER]},
        {"prompt": "Q?"},
    ],
    "alpaca": [
        {"instruction": "Do.", "input": ""},  # no output
        {"instruction": "Do.", "output": "Done.", "history": [["q"]]},
    ],
    "sharegpt": [
        {"conversations": [{"from": "robot", "value": "x"}, {"from": "gpt", "value": "y"}]},
        {"conversations": [{"from": "human"}, {"from": "gpt", "value": "y"}]},
    ],
}


@pytest.mark.parametrize(("fmt", "record"), [(f, r) for f, rs in VALID.items() for r in rs])
def test_valid_example_records_pass_their_schema_and_adapt(fmt, record):
    Draft202012Validator(committed(f"record.{fmt}.schema.json")).validate(record)
    assert to_sample(record, fmt).completion in ("Hello.", "A.", "Done.")


@pytest.mark.parametrize(("fmt", "record"), [(f, r) for f, rs in INVALID.items() for r in rs])
def test_broken_example_records_fail_their_schema(fmt, record):
    assert not Draft202012Validator(committed(f"record.{fmt}.schema.json")).is_valid(record)
