"""The ollama backend on Ollama's /api/chat wire format, RAFT/custom tasks, and the CLI commands."""

from __future__ import annotations

import json

from llm_server import REASONING
from pipeline_helpers import base_config
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.store import Store


def test_ollama_backend_sends_think_false_and_the_schema_as_format(llm_server, write_config, tmp_path):
    server = llm_server(teacher=[["think"], ["500", "ok"]])
    cfg = base_config(
        server.url, count=4, concurrency=2, critic=None, tasks={"grounded": 1.0, "synthesis": 0, "refusal": 0}
    )
    cfg["teacher"] = {"backend": "ollama", "model": "qwen3:8b", "base_url": server.url, "backoff_s": 0.01,
                      "params": {"temperature": 0.2, "max_tokens": 300}}  # fmt: skip
    config = load_generate_config(write_config(cfg))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        requests = store.generations.requests(state.run_id)
        kept = [s for _, s in store.generations.samples(state.run_id)]
    assert (state.status, state.kept) == ("ok", 4)
    body = server.llm.bodies[0]
    assert body["think"] is False and body["stream"] is False
    assert body["format"]["required"] == ["question", "answer", "sources"]
    assert body["options"] == {"temperature": 0.2, "num_predict": 300}
    assert any(r.reasoning == REASONING for r in requests)
    assert [r.error_kind for r in requests if r.error_kind] == ["server_error"]
    assert all(REASONING not in s.model_dump_json() for s in kept)


def test_raft_and_custom_tasks_produce_their_samples(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    custom = {
        "template": "Context:\n{context}\n\nWrite a quiz question for {persona} as JSON.",
        "output_schema": {
            "type": "object",
            "properties": {
                "question": {"type": "string"},
                "answer": {"type": "string"},
                "sources": {"type": "array"},
            },
            "required": ["question", "answer"],
        },
    }
    tasks = {"grounded": 0, "synthesis": 0, "refusal": 0, "raft": 0.5, "custom": 0.5, "custom_task": custom}
    config = load_generate_config(write_config(base_config(server.url, count=4, critic=None, tasks=tasks)))
    with Store.open(tmp_path / "s.duckdb") as store:
        generate(config, store, base=tmp_path)
        (run,) = store.runs.list()
        kept = [s for _, s in store.generations.samples(run.id)]
    by_task = {s.task_type: s for s in kept}
    assert set(by_task) == {"raft", "custom"}
    assert len(by_task["raft"].metadata.source_ids) == 4  # oracle + 3 distractors
    assert json.loads(by_task["custom"].completion)["answer"].startswith("According to the context")


def test_generate_runs_list_and_show_on_the_cli(llm_server, write_config, api_key, tmp_path):
    server = llm_server(teacher=[["loop"]], critic=[["low"]])
    cfg = base_config(server.url, count=3, concurrency=1)
    del cfg["validators"]  # the default chain: every validator, length through the embedded tokenizer
    path = write_config(cfg)
    db = tmp_path / "cli.duckdb"
    runner = CliRunner()
    result = runner.invoke(app, ["generate", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1]
    assert run_id.startswith("run_") and "kept 3/3, rejected 2" in result.stdout
    # Not a terminal: plain progress lines (start, then at most every 30 s, and the end), no bar frames.
    progress = [ln for ln in result.stderr.splitlines() if ln.startswith("generating:")]
    assert progress[0].startswith("generating: kept 0/3, rejected 0 failed 0")
    assert progress[-1].startswith("generating: kept 3/3, rejected 2 failed 0 (")

    listed = runner.invoke(app, ["runs", "list", "--db", str(db), "--json"])
    assert [(r["id"], r["kind"], r["status"], r["kept"]) for r in json.loads(listed.stdout)] == [
        (run_id, "generate", "ok", 3)
    ]
    shown = json.loads(runner.invoke(app, ["runs", "show", run_id, "--db", str(db), "--json"]).stdout)
    assert shown["requested"] == 3 and shown["samples_by_status"] == {"kept": 3, "rejected": 2, "failed": 0}
    assert shown["reject_reasons"] == {"critic.below_threshold": 1, "loop.extra_qa_pair": 1}
    assert sum(n for row in shown["coverage"].values() for n in row.values()) == 3
    assert shown["critic"]["format"]["histogram"] == {"1": 0, "2": 1, "3": 0, "4": 3, "5": 0}
    text = runner.invoke(app, ["runs", "show", run_id, "--db", str(db)]).stdout
    assert "kept 3  rejected 2  failed 0" in text and "persona x task" in text
    assert api_key not in result.output + text


def test_runs_show_of_an_unknown_id_says_how_to_list_ids(tmp_path):
    result = CliRunner().invoke(app, ["runs", "show", "run_000000000000", "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2 and "synthgate runs list" in result.output
