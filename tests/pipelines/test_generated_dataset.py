"""A finished run's kept samples are a dataset: checked by the set-level checker, shown by
`datasets show`, versioned and gated like an audited file."""

from __future__ import annotations

import json

from pipeline_helpers import base_config
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store
from synthgate.training.gate import GatePolicy, check_gate

# Answers of the scripted teacher all open "According to the context, ...": with four opening
# words and a group size this run reaches, that is a collapsed template.
COLLAPSE = {
    "order": ["thinking", "looping", "artifacts"],
    "sets": {"opening_words": 4, "template_collapse_min_records": 4},
}


def _grounded(url: str, **overrides):
    return base_config(url, critic=None, tasks={"grounded": 1.0, "synthesis": 0, "refusal": 0}, **overrides)


def test_a_finished_run_writes_its_kept_samples_as_a_dataset_indexed_by_job(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(teacher=[["loop"]])
    config = load_generate_config(write_config(base_config(server.url, count=4, critic=None, concurrency=1)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        dataset = store.datasets.get(state.dataset_id)
        rows = list(store.samples.iter(state.dataset_id))
        kept = [(job, sample.id) for job, sample in store.generations.samples(state.run_id)]
        rejected = store._con.fetchall(
            "SELECT job FROM gen_jobs WHERE run_id = ? AND status = 'rejected'", [state.run_id]
        )
        summary = store.generations.summary(state.run_id)
        run = store.runs.get(state.run_id)
    assert (dataset.run_id, dataset.name, dataset.fmt) == (state.run_id, "rag-qa", "generated")
    # idx is the job index: persona, task and requests stay one join away in gen_jobs/gen_requests.
    assert [(r.index, r.sample.id) for r in rows] == kept and len(kept) == 4
    assert rejected and not {job for (job,) in rejected} & {r.index for r in rows}
    assert dataset.summary["status_counts"] == {"pass": 4, "fixed": 0, "fail": 0}
    assert dataset.summary["run"] == {
        "id": state.run_id, "requested": 4, "kept": 4, "rejected": 1, "failed": 0,
        "reasons": {"loop.extra_qa_pair": 1},
    }  # fmt: skip
    assert summary["dataset_id"] == run.summary["dataset_id"] == state.dataset_id


def test_every_generated_sample_sharing_the_system_prompt_is_a_set_finding_shown_by_datasets_show(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server()
    db = tmp_path / "s.duckdb"
    config = load_generate_config(write_config(base_config(server.url, count=4, critic=None)))
    with Store.open(db) as store:
        state = generate(config, store, base=tmp_path)
    shown = CliRunner().invoke(app, ["datasets", "show", state.dataset_id, "--json", "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["records"] == 4 and data["status_counts"]["pass"] == 4
    assert data["source"] == f"generation run {state.run_id}"
    (finding,) = [f for f in data["set_findings"] if f["code"] == "set.shared_system_prompt"]
    assert (finding["count"], finding["share"]) == (4, 1.0)
    assert finding["details"]["prompt_head"] == config.system_prompt[:80]
    listed = CliRunner().invoke(app, ["datasets", "list", "--json", "--db", str(db)])
    assert [r["id"] for r in json.loads(listed.stdout)] == [state.dataset_id]


def test_a_generated_version_sharing_one_system_prompt_is_refused_full_sequence_training(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server()
    config = load_generate_config(write_config(base_config(server.url, count=4, critic=None)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        version = store.versions.create("gen", state.run_id)
        full_sequence = check_gate(store, version.id, GatePolicy(require_completion_only=False))
        masked = check_gate(store, version.id, GatePolicy())
    assert [f["code"] for f in version.source_findings].count("set.shared_system_prompt") == 1
    check = next(c for c in full_sequence.checks if c.name == "completion_only")
    assert not full_sequence.passed and not check.passed and check.limit is True
    assert f"source {state.run_id} has a set.shared_system_prompt finding" in check.message
    assert masked.passed


def test_a_generated_version_with_collapsed_answer_openings_carries_the_template_finding(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server()
    config = load_generate_config(write_config(_grounded(server.url, count=4, validators=COLLAPSE)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        version = store.versions.create("gen", state.run_id)
    (collapse,) = [f for f in version.source_findings if f["code"] == "set.template_collapse"]
    assert collapse["details"]["opening"] == "according to the context"
    assert collapse["details"]["task_type"] == "grounded"
    assert (collapse["count"], collapse["details"]["records"]) == (4, 4)


def test_rerunning_a_finished_run_keeps_its_dataset(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    config = load_generate_config(write_config(base_config(server.url, count=3, critic=None)))
    with Store.open(tmp_path / "s.duckdb") as store:
        first = generate(config, store, base=tmp_path)
        again = generate(config, store, base=tmp_path)
        datasets = store.datasets.list()
    assert again.dataset_id == first.dataset_id and [d.id for d in datasets] == [first.dataset_id]


def test_a_run_finished_without_a_dataset_says_how_to_write_one(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    config = load_generate_config(write_config(base_config(server.url, count=2, critic=None)))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        # A store written before runs kept their samples as a dataset.
        for table in ("samples", "verdicts", "set_findings"):
            store._con.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [state.dataset_id])
        store._con.execute("DELETE FROM datasets WHERE id = ?", [state.dataset_id])
        result = CliRunner().invoke(
            app, ["version", "create", "gen", "--source", state.run_id, "--db", store.path]
        )
        assert result.exit_code == 2
        assert f"generation run {state.run_id} has no dataset of its kept samples" in result.output
        rerun = generate(config, store, base=tmp_path)
        assert store.versions.create("gen", rerun.run_id).samples == 2


def test_a_key_the_teacher_echoes_is_masked_in_every_generation_row(
    llm_server, write_config, api_key, tmp_path
):
    import duckdb
    from llm_server import SECRET

    from synthgate.validators.secrets import mask_secrets

    server = llm_server(teacher=[["secret"]])
    db = tmp_path / "s.duckdb"
    config = load_generate_config(write_config(_grounded(server.url, count=2, concurrency=1)))
    with Store.open(db) as store:
        state = generate(config, store, base=tmp_path)
        run = store.datasets.get(state.dataset_id).summary["run"]
    assert run["reasons"].get("secret.api_key", 0) >= 1  # the echoing job was seen, and rejected
    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    rows = "\n".join(str(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"').fetchall())
    con.close()
    assert mask_secrets(SECRET) in rows  # the masked form is there: the rows were written
    assert SECRET not in rows and SECRET[8:-2] not in rows
    assert SECRET.encode() not in db.read_bytes()
