"""`synthgate train` over real exports: refusals exit 2 before a model loads; one real short run.

The exports are made the way a user makes them (audit -> version create -> export, through the
CLI). Only the slow test loads the embedded Gemma 3 270M; it leaves its adapter in the session's
base temp folder (`cli-trained-adapter`), where tests/training/test_eval.py picks it up instead of
training another one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime

# oneDNN's AMX path dies with "Illegal instruction" on these Xeons; set before torch loads.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import synthgate.training.sft as sft  # noqa: E402
from synthgate.cli.app import app  # noqa: E402
from synthgate.training.device import detect_capabilities, resolve_setup  # noqa: E402
from synthgate.training.manifest import MANIFEST_NAME, TRAIN_FILE, GateReport, Manifest, read_manifest  # noqa: E402
from synthgate.training.sft import read_split  # noqa: E402

runner = CliRunner()
SHARED_ADAPTER = "cli-trained-adapter"

SYSTEM = "Answer from the context in one or two plain sentences."
# Distinct contexts and answers, so no duplicate or template finding keeps the version from the gate.
QA = [
    ("LoRA adds trainable low-rank matrices to frozen weights.", "What does LoRA add?",
     "It adds small trainable low-rank matrices next to weights that stay frozen."),
    ("QLoRA keeps the base model in 4-bit NormalFloat.", "How does QLoRA store the base model?",
     "The base model is stored in 4-bit NormalFloat precision."),
    ("Paged optimizers move optimizer state to CPU memory on demand.", "What do paged optimizers move?",
     "Optimizer state goes to CPU memory whenever the GPU would run out."),
    ("RAFT mixes distractor documents into every training prompt.", "What does RAFT mix in?",
     "Distractor documents are placed among the retrieved passages of each prompt."),
    ("DPO learns from pairs of preferred and rejected answers.", "What data does DPO learn from?",
     "Pairs of answers where people marked one as preferred over the other."),
    ("Warmup raises the learning rate over the first steps of training.", "What does warmup do?",
     "The learning rate climbs gradually during the first optimisation steps."),
    ("A tokenizer maps text to the integer ids a model reads.", "What does a tokenizer produce?",
     "Integer ids, one per piece of text, which the network then reads."),
    ("Gradient checkpointing recomputes activations to save memory.", "Why recompute activations?",
     "Recomputing them in the backward pass saves the memory of storing them."),
    ("NEFTune adds noise to embeddings during fine-tuning.", "Where does NEFTune add noise?",
     "Noise is added to the token embeddings while the model is fine-tuned."),
    ("Cosine schedules decay the learning rate along a half cosine.", "How does a cosine schedule decay?",
     "Along half a cosine wave, from the peak rate down towards zero."),
]  # fmt: skip


class ModelLoaded(Exception):
    """Raised by the stand-in loader: every check before the model load let the run through."""


def run(*args: str, catch: bool = False):
    return runner.invoke(app, list(args), catch_exceptions=catch)


def last_line(output: str) -> str:
    return [ln for ln in output.splitlines() if ln.strip()][-1]


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    """(folder, db, version id) of an audited, versioned clean set."""
    folder = tmp_path_factory.mktemp("train-cli")
    data = folder / "clean.jsonl"
    rows = [
        {
            "task_type": "grounded",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
                {"role": "assistant", "content": answer},
            ],
        }
        for context, question, answer in QA
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    db = str(folder / "s.duckdb")
    audited = run("audit", str(data), "--db", db, "--max-length", "256")
    assert audited.exit_code == 0, audited.output
    created = run("version", "create", "clean", "--source", last_line(audited.output), "--db", db)
    return folder, db, last_line(created.output)


def export(version, name: str, fmt: str = "trl-jsonl"):
    folder, db, vid = version
    out = folder / name
    if not out.exists():
        result = run("export", vid, "--format", fmt, "--out", str(out), "--eval-fraction", "0.2", "--db", db)
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def no_model_load(monkeypatch):
    calls = []

    def load(spec, **load_kwargs):
        calls.append(spec)
        raise ModelLoaded(spec)

    monkeypatch.setattr(sft, "load_causal_lm", load)
    return calls


def test_export_manifest_records_format_split_and_lineage(version):
    _, _, vid = version
    manifest = read_manifest(export(version, "jsonl"))
    assert (manifest.format, manifest.eval_fraction, manifest.seed) == ("trl-jsonl", 0.2, 0)
    assert manifest.version_id == vid and manifest.version_name == "clean"
    assert manifest.source_id is not None and manifest.source_id.startswith("ds_")


def test_a_manifest_written_before_the_format_fields_still_loads_as_trl_jsonl():
    old = Manifest(
        synthgate_version="0.1.0",
        version_id="v_old",
        created_at=datetime.now(UTC),
        gate=GateReport(passed=True),
        chain_config={},
        counts={},
        tokenizer="default",
        max_length=128,
        teacher_models=[],
        files={},
    ).model_dump(mode="json")
    for key in ("format", "eval_fraction", "seed", "source_id", "version_name"):
        del old[key]
    loaded = Manifest.model_validate(old)
    assert (loaded.format, loaded.seed, loaded.source_id) == ("trl-jsonl", None, None)


def test_an_edited_export_exits_2_before_any_model_is_loaded(version, tmp_path, no_model_load):
    tampered = tmp_path / "tampered"
    shutil.copytree(export(version, "jsonl"), tampered)
    train_file = tampered / TRAIN_FILE
    train_file.write_bytes(train_file.read_bytes().replace(b"Question", b"question", 1))

    result = run("train", str(tampered), "--out", str(tmp_path / "run"), "--max-steps", "2")

    assert result.exit_code == 2
    assert "train.jsonl does not match the manifest: sha256 expected" in result.output
    assert "how to fix: Re-export the version" in result.output
    assert no_model_load == [] and not (tmp_path / "run").exists()


def test_a_missing_manifest_exits_2_before_any_model_is_loaded(version, tmp_path, no_model_load):
    copy = tmp_path / "copy"
    shutil.copytree(export(version, "jsonl"), copy)
    (copy / MANIFEST_NAME).unlink()
    result = run("train", str(copy), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "manifest.json is missing" in result.output
    assert no_model_load == []


def test_an_hf_dataset_export_is_refused_naming_the_formats_training_reads(version, tmp_path, no_model_load):
    result = run("train", str(export(version, "hf", "hf-dataset")), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "the export is in hf-dataset format: training reads trl-jsonl or parquet exports" in result.output
    assert no_model_load == []


def test_a_parquet_export_reaches_the_model_load_with_the_same_records(version, tmp_path, no_model_load):
    parquet, jsonl = export(version, "pq", "parquet"), export(version, "jsonl")
    assert read_split(parquet / "train.parquet") == read_split(jsonl / TRAIN_FILE)
    result = run("train", str(parquet), "--out", str(tmp_path / "run"), catch=True)
    assert isinstance(result.exception, ModelLoaded) and no_model_load == ["default"]


def test_flags_override_the_config_file_and_absent_flags_leave_it_alone(version, tmp_path, monkeypatch):
    seen = {}

    def fake_train(export_dir, base_model, out, config, allow_self_distill, **kwargs):
        seen.update(base=base_model, config=config, self_distill=allow_self_distill)
        raise ModelLoaded(base_model)

    monkeypatch.setattr(sft, "train", fake_train)
    config = tmp_path / "train.yaml"
    config.write_text("learning_rate: 1.0e-4\nmerge: true\nlora_r: 8\nmax_steps: 10\n")
    args = ["train", str(export(version, "jsonl")), "--out", str(tmp_path / "run"), "--config", str(config)]
    run(*args, "--max-steps", "3", "--neftune", "5", "--base-model", "/models/x", catch=True)

    cfg = seen["config"]
    assert (cfg.max_steps, cfg.neftune_noise_alpha, cfg.learning_rate) == (3, 5.0, 1e-4)
    assert (cfg.merge, cfg.lora_r, cfg.num_train_epochs) == (True, 8, 2.0)
    assert seen["base"] == "/models/x" and seen["self_distill"] is False


def test_device_precision_memory_and_length_flags_reach_the_config(version, tmp_path, monkeypatch):
    seen = {}

    def fake_train(export_dir, base_model, out, config, allow_self_distill, **kwargs):
        seen.update(config=config)
        raise ModelLoaded(base_model)

    monkeypatch.setattr(sft, "train", fake_train)
    args = ["train", str(export(version, "jsonl")), "--out", str(tmp_path / "run")]
    flags = ["--device", "cpu", "--precision", "bf16", "--max-length", "auto", "--batch-size", "2"]
    flags += ["--gradient-accumulation-steps", "8", "--gradient-checkpointing", "--lora-r", "8"]
    run(*args, *flags, catch=True)

    cfg = seen["config"]
    assert (cfg.device, cfg.precision, cfg.quantization, cfg.max_length) == ("cpu", "bf16", None, "auto")
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (2, 8)
    assert cfg.gradient_checkpointing is True and cfg.lora_r == 8


def test_the_documented_accelerate_launch_command_parses_and_reaches_train(version, tmp_path, monkeypatch):
    from accelerate.commands.launch import launch_command_parser

    seen = {}

    def fake_train(export_dir, base_model, out, config, allow_self_distill, **kwargs):
        seen.update(export=export_dir, out=out, config=config)
        raise ModelLoaded(base_model)

    monkeypatch.setattr(sft, "train", fake_train)
    jsonl, out = str(export(version, "jsonl")), str(tmp_path / "run")
    command = ["--multi_gpu", "--num_processes", "2", "-m", "synthgate.cli.app", "train", jsonl]
    command += ["--out", out, "--gradient-accumulation-steps", "4"]
    launch = launch_command_parser().parse_args(command)
    assert (launch.module, launch.training_script, launch.num_processes) == (True, "synthgate.cli.app", 2)

    # Each process runs `python -m synthgate.cli.app` with the arguments after the module.
    result = run(*launch.training_script_args, catch=True)
    assert isinstance(result.exception, ModelLoaded), result.output
    assert (str(seen["export"]), str(seen["out"])) == (jsonl, out)
    assert seen["config"].gradient_accumulation_steps == 4


def test_qlora_without_bitsandbytes_exits_2_naming_the_extra_before_any_model_is_loaded(
    version, tmp_path, no_model_load
):
    result = run(
        "train", str(export(version, "jsonl")), "--out", str(tmp_path / "run"), "--quantization", "4bit"
    )
    assert result.exit_code == 2
    assert "--quantization 4bit (QLoRA) needs the bitsandbytes package" in result.output
    assert "pip install 'synthgate[qlora]'" in result.output
    assert no_model_load == [] and not (tmp_path / "run").exists()


def test_training_needs_out_unless_planning(version, no_model_load):
    result = run("train", str(export(version, "jsonl")))
    assert result.exit_code == 2 and "--out is required to train" in result.output
    assert no_model_load == []


def test_a_memory_budget_without_plan_is_an_error_not_ignored(version, tmp_path, no_model_load):
    result = run("train", str(export(version, "jsonl")), "--out", str(tmp_path / "run"), "--memory-gb", "16")
    assert result.exit_code == 2 and "--memory-gb only applies with --plan" in result.output
    assert no_model_load == []


def test_plan_prints_the_embedded_models_memory_and_batch_without_loading_weights(version, no_model_load):
    result = run(
        "train", str(export(version, "jsonl")), "--plan", "--max-length", "auto", "--memory-gb", "16"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "device cpu, precision fp32, base weights fp32"
    assert re.fullmatch(r"max_length auto: (64|128|192) \(longest of 10 records is \d+ tokens .*", lines[1])
    assert "plan for gemma-3-270m: 268M parameters, vocabulary 262,144, 18 layers, hidden 640" in lines
    assert "  cpu, fp32; LoRA 3.80M parameters; batch 4 x max_length" in result.output
    assert re.search(r"^  logits +\d+\.\d\d GiB$", result.output, re.M)
    assert re.search(r"^largest batch that fits 16 GiB at max_length \d+: \d+ ", result.output, re.M)
    assert no_model_load == []


def test_plan_for_an_8b_config_in_4bit_on_a_16_gib_gpu_from_a_cpu_machine(version, tmp_path, no_model_load):
    model = tmp_path / "llama-3.1-8b"
    model.mkdir()
    model.joinpath("config.json").write_text(
        json.dumps(
            {
                "vocab_size": 128256,
                "hidden_size": 4096,
                "intermediate_size": 14336,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "head_dim": 128,
                "tie_word_embeddings": False,
            }
        )
    )
    args = ["train", str(export(version, "jsonl")), "--plan", "--base-model", str(model), "--quantization"]
    args += [
        "4bit",
        "--max-length",
        "2048",
        "--batch-size",
        "1",
        "--gradient-checkpointing",
        "--memory-gb",
        "16",
    ]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "device cuda, precision bf16, base weights 4-bit NF4 (double quantization, bf16 compute) "
        "(planned for a GPU: this machine has none)"
    )
    assert "plan for llama-3.1-8b: 8,031M parameters" in result.output
    assert "largest batch that fits 16 GiB at max_length 2048: 1 " in result.output
    assert no_model_load == []


def test_an_unknown_config_key_exits_2(version, tmp_path, no_model_load):
    config = tmp_path / "train.yaml"
    config.write_text("learning_rat: 1.0e-4\n")
    result = run(
        "train", str(export(version, "jsonl")), "--out", str(tmp_path / "run"), "--config", str(config)
    )
    assert result.exit_code == 2 and "learning_rat" in result.output and no_model_load == []


@pytest.mark.slow
def test_a_real_two_step_run_writes_the_adapter_and_prints_its_folder_last(version, tmp_path_factory):
    out = tmp_path_factory.getbasetemp() / SHARED_ADAPTER
    result = run(
        "train", str(export(version, "jsonl")), "--out", str(out), "--max-steps", "2", "--max-length", "auto"
    )

    assert result.exit_code == 0, result.output
    assert last_line(result.output) == str(out)
    assert "trained 2 steps" in result.output and "eval loss" in result.output
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "tokenizer.json",
        "training_config.json",
    ):
        assert (out / name).is_file(), name
    setup = resolve_setup("auto", "auto", None, detect_capabilities())  # cpu, fp32 on the CPU machines
    assert result.output.startswith(f"{setup.describe()}\nmax_length auto: ")
    written = json.loads((out / "training_config.json").read_text())
    # The resolved setting, not the request: rerunning with --config repeats the same run.
    assert written["max_steps"] == 2
    assert (written["device"], written["precision"]) == (setup.device, setup.precision)
    assert written["max_length"] in (64, 128, 192) and written["quantization"] is None
    assert read_manifest(out).version_name == "clean"
