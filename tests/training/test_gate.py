"""The training gate: each check passes or fails with its numbers; policies are strict YAML."""

from __future__ import annotations

import json

import pytest

from synthgate.audit.runner import AuditOptions, audit
from synthgate.errors import ConfigError
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import Store
from synthgate.training.gate import DEFAULT_BLOCK_CODES, GatePolicy, check_gate, load_policy

FAST = ChainConfig(order=["thinking", "looping", "artifacts", "format"])

ANSWERS = [
    (
        "What does LoRA train?",
        "LoRA trains small low-rank adapter matrices while the base weights stay frozen.",
    ),
    ("Why quantize a base model?", "Quantizing to four bits cuts memory so a larger model fits on one GPU."),
    ("What is a tokenizer?", "A tokenizer splits text into the integer ids a language model reads."),
    ("What does warmup do?", "Warmup raises the learning rate slowly so early updates stay stable."),
]
REFUSAL = "The provided context does not contain enough information to answer that question."


def rec(question: str, answer: str, **extra) -> dict:
    msgs = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": msgs, **extra}


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


@pytest.fixture
def version(store, tmp_path):
    """Audit records and freeze them (every status by default) as a version; returns its id."""

    def make(records: list[dict], include=("pass", "fixed", "fail")) -> str:
        path = tmp_path / f"d{len(store.versions.list())}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        ds = audit(path, store, AuditOptions(chain=FAST)).dataset_id
        return store.versions.create(path.name, ds, include=include).id

    return make


def check(result, name):
    return next(c for c in result.checks if c.name == name)


def test_a_clean_version_passes_every_default_check(store, version):
    result = check_gate(store, version([rec(*a) for a in ANSWERS]))
    assert result.passed
    assert [c.name for c in result.checks] == [
        "blocking_codes",
        "min_samples",
        "near_duplicate_share",
        "completion_only",
    ]
    assert result.policy == GatePolicy()


def test_members_with_blocking_codes_fail_with_counts_per_code(store, version):
    records = [
        *[rec(*a) for a in ANSWERS],
        rec("Greet the user.", "Hello {user_name}, welcome aboard."),
        rec("Greet the admin.", "Hi [INSERT NAME], your account is ready."),
        rec("Plan the answer.", "<think>unfinished reasoning and then the answer is forty-two."),
    ]
    result = check_gate(store, version(records))
    blocking = check(result, "blocking_codes")
    assert not result.passed and not blocking.passed
    assert (blocking.value, blocking.limit) == (3, 0)
    # Members are counted once; codes once per member carrying them.
    assert blocking.message == (
        "3 of 7 members carry blocking codes: artifact.unfilled_placeholder 2, "
        "artifact.empty_completion 1, think.empty_after_strip 1, think.unclosed 1"
    )
    assert "blocking_codes: 3 of 7 members" in result.explain()


def test_repairs_never_block(store, version):
    records = [rec("How long is warmup?", "<think>recall</think>A few hundred steps is common.")]
    result = check_gate(store, version(records))
    assert check(result, "blocking_codes").passed
    assert check(result, "blocking_codes").message.startswith("no member carries a blocking code (leak., ")


def test_block_codes_are_prefixes_chosen_by_the_policy(store, version):
    vid = version([rec("Greet the user.", "Hello {user_name}, welcome aboard.")])
    assert not check_gate(store, vid, GatePolicy(block_codes=["artifact."])).passed
    assert not check_gate(store, vid, GatePolicy(block_codes=["artifact.unfilled_placeholder"])).passed
    assert check_gate(store, vid, GatePolicy(block_codes=["leak.", "artifact.citation_marker"])).passed


def test_too_few_samples_fail_with_the_count(store, version):
    result = check_gate(store, version([rec(*a) for a in ANSWERS[:3]]), GatePolicy(min_samples=5))
    small = check(result, "min_samples")
    assert not small.passed
    assert (small.value, small.limit) == (3, 5)
    assert small.message == "3 members, fewer than the 5 required"


def test_an_empty_version_fails_the_default_policy(store, version):
    vid = version([rec("Greet the user.", "Hello {user_name}, welcome aboard.")], include=("pass",))
    small = check(check_gate(store, vid), "min_samples")
    assert not small.passed and (small.value, small.limit) == (0, 1)


def test_duplicate_share_above_the_limit_fails(store, version):
    # The same prompt with another answer: dup.exact_prompt (warn), so the member still passes.
    records = [
        *[rec(*a) for a in ANSWERS],
        rec(ANSWERS[0][0], "Adapters of low rank are trained; weights stay."),
    ]
    vid = version(records)
    dup = check(check_gate(store, vid), "near_duplicate_share")
    assert not dup.passed
    assert (dup.value, dup.limit) == (0.2, 0.1)
    assert dup.message.startswith("1 of 5 members (20.0%) are exact or near duplicates")
    assert check(
        check_gate(store, vid, GatePolicy(max_near_duplicate_share=0.25)), "near_duplicate_share"
    ).passed


def test_refusal_share_is_checked_per_task_type(store, version):
    records = [
        *[rec(*a, task_type="grounded") for a in ANSWERS[:3]],
        rec("What is the warranty on cables?", REFUSAL, task_type="grounded"),
        rec("What is the refund window?", REFUSAL, task_type="refusal"),
    ]
    policy = GatePolicy(
        refusal_share={"grounded": (0.0, 0.2), "refusal": (0.9, 1.0), "*": (0.0, 0.5), "synthesis": (0, 1)}
    )
    result = check_gate(store, version(records), policy)
    grounded = check(result, "refusal_share[grounded]")
    assert not grounded.passed
    assert (grounded.value, grounded.limit) == (0.25, [0.0, 0.2])
    assert grounded.message == (
        "1 of 4 members of task type 'grounded' are refusals (25.0%); expected 0% to 20%"
    )
    assert check(result, "refusal_share[refusal]").passed
    assert check(result, "refusal_share[*]").value == 0.4
    absent = check(result, "refusal_share[synthesis]")
    assert absent.passed and absent.value is None and absent.message == "no members of task type 'synthesis'"


def test_low_mean_critic_scores_fail(store, version):
    records = [
        rec(*ANSWERS[0], critic_scores={"faithfulness": 0.4, "helpfulness": 0.6}),
        rec(*ANSWERS[1], critic_scores={"faithfulness": 0.9, "helpfulness": 1.0}),
        rec(*ANSWERS[2]),
    ]
    vid = version(records)
    critic = check(check_gate(store, vid, GatePolicy(min_critic_score=0.7)), "min_critic_score")
    assert not critic.passed
    assert (critic.value, critic.limit) == (pytest.approx(0.5), 0.7)
    assert critic.message == "1 of 2 scored members have a mean critic score below 0.7 (lowest 0.5)"
    assert check(check_gate(store, vid, GatePolicy(min_critic_score=0.5)), "min_critic_score").passed
    assert "min_critic_score" not in [c.name for c in check_gate(store, vid).checks]


def test_critic_check_passes_when_no_member_is_scored(store, version):
    critic = check(
        check_gate(store, version([rec(*ANSWERS[0])]), GatePolicy(min_critic_score=0.7)), "min_critic_score"
    )
    assert critic.passed and critic.value is None
    assert critic.message == "no member carries critic scores; nothing to check"


def test_full_sequence_training_is_refused_when_the_source_shares_one_system_prompt(store, version):
    system = {"role": "system", "content": "Answer only from the provided context, in two sentences."}
    records = [{"messages": [system, *rec(*a)["messages"]]} for a in ANSWERS]
    vid = version(records)
    assert check(check_gate(store, vid), "completion_only").passed
    refused = check(check_gate(store, vid, GatePolicy(require_completion_only=False)), "completion_only")
    assert not refused.passed
    assert (refused.value, refused.limit) == (False, True)
    assert "set.shared_system_prompt finding" in refused.message


def test_full_sequence_training_is_allowed_without_a_shared_system_prompt(store, version):
    result = check_gate(store, version([rec(*a) for a in ANSWERS]), GatePolicy(require_completion_only=False))
    assert check(result, "completion_only").passed


def test_the_shipped_default_policy_loads_and_matches_the_model_defaults():
    policy = load_policy()
    assert policy == GatePolicy()
    assert policy.block_codes == DEFAULT_BLOCK_CODES
    assert (policy.min_samples, policy.max_near_duplicate_share, policy.require_completion_only) == (
        1,
        0.1,
        True,
    )


def test_a_policy_file_overrides_defaults(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("min_samples: 100\nrefusal_share:\n  refusal: [0.8, 1.0]\n")
    policy = load_policy(path)
    assert policy.min_samples == 100
    assert policy.refusal_share == {"refusal": (0.8, 1.0)}
    assert policy.block_codes == DEFAULT_BLOCK_CODES


def test_an_unknown_key_is_an_error_naming_it_and_the_file(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("min_sample: 10\n")
    with pytest.raises(ConfigError, match=r"gate\.yaml: min_sample: Extra inputs are not permitted"):
        load_policy(path)


def test_a_reversed_refusal_range_is_an_error(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("refusal_share:\n  grounded: [0.5, 0.1]\n")
    with pytest.raises(ConfigError, match=r"refusal_share\['grounded'\] must be \[min, max\]"):
        load_policy(path)
