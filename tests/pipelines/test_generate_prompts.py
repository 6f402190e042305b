"""An existing dataset's prompts as the source: the teacher answers them (task `answer`)."""

from __future__ import annotations

import pytest
from pipeline_helpers import base_config

from synthgate.errors import ConfigError
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import generate
from synthgate.schemas.sample import Message, Sample
from synthgate.store import SampleRow, Store

PROMPTS = [
    ("You are terse.", "What does LoRA train?"),
    (None, "Why quantize weights to four bits?"),
    ("You are terse.", "What does LoRA train?"),  # a repeat: one source prompt
]


def stored_prompts(store: Store) -> str:
    ds = store.datasets.create(
        name="prompts.jsonl", source_path="/data/prompts.jsonl", source_sha256="ab" * 32, fmt="auto",
        options={}, chain_config={"order": []},
    )  # fmt: skip
    rows = [
        SampleRow(i, f"in-{i}", Sample(system_prompt=sp, prompt=[Message(role="user", content=q)],
                                       completion="old answer"), None, None)
        for i, (sp, q) in enumerate(PROMPTS)
    ]  # fmt: skip
    rows.append(SampleRow(len(rows), "bad", None, None, "{not json"))
    store.samples.add_batch(ds, rows)
    store.datasets.finish(ds, {})
    return ds


def test_the_teacher_answers_each_prompt_of_a_stored_dataset(llm_server, write_config, api_key, tmp_path):
    server = llm_server()
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        ds = stored_prompts(store)
    cfg = base_config(server.url, count=2, concurrency=1)
    del cfg["tasks"]
    cfg["sources"] = {"prompts": ds}
    config = load_generate_config(write_config(cfg))
    with Store.open(db) as store:
        state = generate(config, store, base=tmp_path)
        kept = [s for _, s in store.generations.samples(state.run_id)]
        teacher = [r for r in store.generations.requests(state.run_id) if r.role == "teacher"]
    assert (state.status, state.kept) == ("ok", 2)
    assert [(s.system_prompt, s.prompt[0].content, s.task_type) for s in kept] == [
        ("You are terse.", "What does LoRA train?", "answer"),
        (config.system_prompt, "Why quantize weights to four bits?", "answer"),
    ]
    assert kept[0].completion == "Here is a careful answer to: What does LoRA train?"
    assert kept[0].metadata.source_ids[0].startswith("p_") and kept[0].metadata.critic_scores
    assert (
        "System prompt: You are terse.\n\nUser: What does LoRA train?" in teacher[0].messages[-1]["content"]
    )


def test_prompts_and_documents_or_a_task_mix_do_not_mix(write_config, tmp_path):
    cfg = base_config("http://127.0.0.1:9", sources={"prompts": "ds_0123456789ab"})
    with pytest.raises(ConfigError, match=r"`prompts` replaces `documents` and `topics`"):
        load_generate_config(write_config(cfg))
    cfg["sources"] = {"prompts": "ds_0123456789ab"}
    with pytest.raises(ConfigError, match=r"`tasks` does not apply to `sources.prompts`"):
        load_generate_config(write_config(cfg))
