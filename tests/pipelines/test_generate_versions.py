"""A finished generation run is a version source: `version create --source run_...`."""

from __future__ import annotations

import json

import pytest
from pipeline_helpers import base_config
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.errors import InputError
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store


def test_a_generated_set_becomes_a_version_with_count_members_and_its_teacher(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(teacher=[["loop"], ["think"]], critic=[["ok"], ["ok"], ["low"]])
    path = write_config(base_config(server.url, count=5, concurrency=1))
    db = tmp_path / "gen.duckdb"
    runner = CliRunner()
    result = runner.invoke(app, ["generate", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1]

    created = runner.invoke(app, ["version", "create", "rag-sft", "--source", run_id, "--db", str(db)])
    assert created.exit_code == 0, created.output
    version_id = created.stdout.strip().splitlines()[-1]
    assert f"5 samples from {run_id}" in created.stdout
    with Store.open(db) as store:
        info = store.versions.get(version_id)
        members = list(store.versions.iter_members(version_id))
        kept = {s.id: job for job, s in store.generations.samples(run_id)}
        store.versions.verify(version_id)
    assert (info.source_kind, info.samples, info.teacher_models) == ("run", 5, ["teacher-x"])
    assert info.max_length == 2048 and info.tokenizer is None
    assert info.chain_config["order"] == ["thinking", "leakage", "looping", "artifacts", "secrets", "format"]
    assert info.chain_config["length"]["max_length"] == 2048
    # The source is the run's dataset: its five kept samples (one repaired). The two rejected jobs
    # (the loop, the low critic score) stay the run's provenance, counted in the dataset's summary.
    assert info.source_status_counts == {"pass": 4, "fixed": 1, "fail": 0}
    assert "loop.extra_qa_pair" not in info.source_code_counts
    with Store.open(db) as store:
        dataset = store.datasets.get(store.datasets.for_run(run_id))
    assert dataset.run_id == run_id and dataset.fmt == "generated"
    assert dataset.summary["run"]["reasons"] == {"loop.extra_qa_pair": 1, "critic.below_threshold": 1}
    assert {m.sample.id: m.source_index for m in members} == kept
    stripped = [m for m in members if m.status == "fixed"]
    assert len(stripped) == 1 and stripped[0].codes == ["think.stripped"] and stripped[0].fail_codes == []
    assert all(m.sample.metadata.critic_scores["groundedness"] == 4 for m in members)

    args = ["version", "create", "rag-sft", "--source", run_id, "--db", str(db)]
    again = runner.invoke(app, args)
    assert again.stdout.startswith(f"already versioned as {version_id}")


def test_prompt_keys_of_run_members_match_those_of_the_same_samples_audited(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server()
    config = load_generate_config(write_config(base_config(server.url, count=3, critic=None)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        version = store.versions.create("gen", state.run_id)
        keys = store._con.fetchall(
            "SELECT prompt_key, prompt::VARCHAR FROM version_samples WHERE version_id = ?", [version.id]
        )
    for key, prompt in keys:
        turns = json.loads(prompt)
        # samples.py writes prompts with json.dumps; the run loader must produce the same text.
        assert prompt == json.dumps(turns, ensure_ascii=False)
        assert len(key) == 16


def test_an_unfinished_run_cannot_be_versioned(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    config = load_generate_config(write_config(base_config(server.url, count=4, concurrency=1)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path, stop_after_jobs=2)
        with pytest.raises(InputError, match=r"generation run run_\w+ has not finished \(status running\)"):
            store.versions.create("gen", state.run_id)
        finished = generate(config, store, base=tmp_path)
        assert store.versions.create("gen", finished.run_id).samples == 4


def test_a_run_id_that_does_not_exist_says_how_to_list_runs(tmp_path):
    result = CliRunner().invoke(
        app, ["version", "create", "x", "--source", "run_000000000000", "--db", str(tmp_path / "x.duckdb")]
    )
    assert result.exit_code == 2 and "synthgate runs list" in result.output
