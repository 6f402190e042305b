"""Keeping fewer than every valid sample: the teacher's self-check, and the critic's top fraction."""

from __future__ import annotations

from pipeline_helpers import base_config

from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.critic import mean_score
from synthgate.pipelines.runner import generate
from synthgate.store import Store


def _jobs(store, run_id):
    return store._con.fetchall(
        "SELECT job, status, reason FROM gen_jobs WHERE run_id = ? ORDER BY job", [run_id]
    )


def test_answers_the_teacher_cannot_verify_are_dropped_and_the_check_is_stored(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(self_check=[["ok"], ["unsupported"], ["bad_json", "ok"]])
    cfg = base_config(server.url, count=3, concurrency=1, critic=None, self_check=True)
    config = load_generate_config(write_config(cfg))
    with Store.open(tmp_path / "s.duckdb") as store:
        state = generate(config, store, base=tmp_path)
        rows = _jobs(store, state.run_id)
        checks = [r for r in store.generations.requests(state.run_id) if r.role == "self_check"]
        summary = store.generations.summary(state.run_id)
    assert (state.status, state.kept, state.rejected) == ("ok", 3, 1)
    assert rows[1][1:] == ("rejected", "selfcheck.unsupported")
    assert len(checks) == 5 and checks[0].model == "teacher-x"
    assert checks[0].messages[0]["content"].startswith("You check an answer against the context")
    assert [c.error_kind for c in checks].count("gen.invalid_json") == 1
    assert summary["requests"]["self_check"]["requests"] == 5


def test_keep_top_scores_count_over_fraction_candidates_and_keeps_the_best(
    llm_server, write_config, api_key, tmp_path
):
    server = llm_server(critic=[["ok"], ["high"], ["low"], ["ok"], ["high"]])
    cfg = base_config(server.url, count=2, concurrency=1)
    cfg["critic"]["keep_top"] = 0.5
    config = load_generate_config(write_config(cfg))
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        state = generate(config, store, base=tmp_path)
        rows = _jobs(store, state.run_id)
        kept = list(store.generations.samples(state.run_id))
    # 4 candidates meet the threshold (the "low" one does not); the two scored 5 are kept.
    assert (state.status, state.kept, state.goal) == ("ok", 2, 4)
    assert [r[1:] for r in rows] == [
        ("rejected", "critic.below_top_fraction"),
        ("kept", None),
        ("rejected", "critic.below_threshold"),
        ("rejected", "critic.below_top_fraction"),
        ("kept", None),
    ]
    assert [mean_score(s.metadata.critic_scores) for _, s in kept] == [5.0, 5.0]
    assert state.reasons == {"critic.below_threshold": 1, "critic.below_top_fraction": 2}

    requests_before = len(server.llm.bodies)
    with Store.open(db) as store:
        again = generate(config, store, base=tmp_path)
        assert _jobs(store, state.run_id) == rows
    assert (again.resumed, again.kept, len(server.llm.bodies)) == (True, 2, requests_before)
