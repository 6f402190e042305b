"""Versions: content-addressed, immutable snapshots of audited datasets, with lineage and diffs."""

from __future__ import annotations

import json

import pytest

from synthgate.audit.runner import AuditOptions, audit
from synthgate.errors import ConfigError, InputError, NotFound, StoreError
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import Store

# No leakage/length validators: fast, and enough to produce pass, fixed and fail records.
FAST = ChainConfig(order=["thinking", "looping", "artifacts", "format"])

CLEAN = [
    (
        "What does LoRA train?",
        "LoRA trains small low-rank adapter matrices while the base weights stay frozen.",
    ),
    ("Why quantize a base model?", "Quantizing to four bits cuts memory so a larger model fits on one GPU."),
    ("What is a tokenizer?", "A tokenizer splits text into the integer ids a language model reads."),
]
FIXED = (
    "How long should warmup be?",
    "<think>check the paper</think>A few hundred steps is a common choice.",
)
FAILED = ("Greet the new user.", "Hello {user_name}, welcome aboard our platform today.")


def rec(question: str, answer: str, **extra) -> dict:
    msgs = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": msgs, **extra}


def audited(store: Store, path, records: list[dict], chain: ChainConfig = FAST, **options) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return audit(path, store, AuditOptions(chain=chain, **options)).dataset_id


def mixed(**extra) -> list[dict]:
    return [rec(q, a, **extra) for q, a in [*CLEAN, FIXED, FAILED]]


def test_identical_content_gives_the_same_version_id_and_says_so(store, tmp_path):
    ds1 = audited(store, tmp_path / "a.jsonl", mixed())
    ds2 = audited(store, tmp_path / "b.jsonl", mixed())
    first = store.versions.create("sft", ds1)
    again = store.versions.create("other-name", ds2)
    assert first.id.startswith("v_") and len(first.id) == 18
    assert again.id == first.id
    assert again.reused and not first.reused
    assert again.name == "sft" and again.source_id == ds1
    assert [v.id for v in store.versions.list()] == [first.id]


def test_one_changed_sample_gives_a_new_version_id(store, tmp_path):
    ds1 = audited(store, tmp_path / "a.jsonl", mixed())
    records = mixed()
    records[0] = rec(CLEAN[0][0], "LoRA trains low-rank adapters; the frozen base weights never change.")
    ds2 = audited(store, tmp_path / "b.jsonl", records)
    assert store.versions.create("sft", ds1).id != store.versions.create("sft", ds2).id


def test_a_changed_length_budget_gives_a_new_version_id(store, tmp_path):
    ds1 = audited(store, tmp_path / "a.jsonl", mixed())
    longer = FAST.model_copy(update={"length": FAST.length.model_copy(update={"max_length": 4096})})
    ds2 = audited(store, tmp_path / "b.jsonl", mixed(), chain=longer)
    v1, v2 = store.versions.create("sft", ds1), store.versions.create("sft", ds2)
    assert v1.id != v2.id
    assert (v1.max_length, v2.max_length) == (2048, 4096)


def test_include_selects_members_by_derived_status(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", mixed())
    only_pass = store.versions.create("sft", ds, include=["pass"])
    default = store.versions.create("sft", ds)
    everything = store.versions.create("sft", ds, include=["pass", "fixed", "fail"])
    assert only_pass.member_status_counts == {"pass": 3, "fixed": 0, "fail": 0}
    assert default.member_status_counts == {"pass": 3, "fixed": 1, "fail": 0}
    assert everything.member_status_counts == {"pass": 3, "fixed": 1, "fail": 1}
    assert default.include == ("pass", "fixed")
    assert everything.source_status_counts == {"pass": 3, "fixed": 1, "fail": 1}


def test_members_are_the_repaired_samples_with_their_codes(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", mixed())
    version = store.versions.create("sft", ds, include=["fixed", "fail"])
    members = list(store.versions.iter_members(version.id))
    assert [m.sample.completion for m in members] == [
        "A few hundred steps is a common choice.",
        FAILED[1],
    ]
    assert [(m.status, m.codes, m.fail_codes) for m in members] == [
        ("fixed", ["think.stripped"], []),
        ("fail", ["artifact.unfilled_placeholder"], ["artifact.unfilled_placeholder"]),
    ]
    assert [s.completion for s in store.versions.iter_samples(version.id)] == [
        m.sample.completion for m in members
    ]
    assert store.versions.fail_code_counts(version.id) == {"artifact.unfilled_placeholder": 1}


def test_unreadable_records_never_become_members(store, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(rec(*CLEAN[0])) + "\n{not json\n", encoding="utf-8")
    ds = audit(path, store, AuditOptions(chain=FAST, skip_invalid=True)).dataset_id
    version = store.versions.create("sft", ds, include=["pass", "fixed", "fail"])
    assert version.samples == 1
    assert version.source_status_counts == {"pass": 1, "fixed": 0, "fail": 1}


def test_lineage_records_parent_source_settings_and_teachers(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", mixed(teacher_model="qwen2.5-72b"))
    first = store.versions.create("sft", ds, include=["pass"])
    second = store.versions.create("sft", ds)
    unrelated = store.versions.create("other", ds, include=["pass", "fixed", "fail"])
    explicit = store.versions.create("third", ds, include=["fixed"], parent=first.id)
    assert first.parent_id is None
    assert second.parent_id == first.id  # the newest version with the same name
    assert unrelated.parent_id is None
    assert explicit.parent_id == first.id
    assert second.source_id == ds and second.source_kind == "dataset"
    assert second.chain_config == FAST.model_dump(mode="json")
    assert (second.tokenizer, second.max_length) == (None, 2048)
    assert second.teacher_models == ["qwen2.5-72b"]
    assert second.source_code_counts == {"artifact.unfilled_placeholder": 1, "think.stripped": 1}
    assert second.source_pass_rate == pytest.approx(4 / 5)
    assert store.versions.get(second.id) == second


def test_an_unknown_parent_is_not_found(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", mixed())
    with pytest.raises(NotFound, match=r"no version 'v_missing'.*synthgate version list"):
        store.versions.create("sft", ds, parent="v_missing")
    assert store.versions.list() == []


def test_unknown_ids_and_bad_include_are_clear_errors(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", mixed())
    with pytest.raises(NotFound, match=r"no version 'v_0000000000000000'.*`synthgate version list"):
        store.versions.get("v_0000000000000000")
    with pytest.raises(NotFound, match=r"no dataset 'ds_nope'.*synthgate datasets list"):
        store.versions.create("sft", "ds_nope")
    with pytest.raises(InputError, match=r"'job_0123' is not a source id this synthgate can version"):
        store.versions.create("sft", "job_0123")
    with pytest.raises(NotFound, match=r"no run 'run_0123'.*synthgate runs list"):
        store.versions.create("sft", "run_0123")
    with pytest.raises(ConfigError, match=r"include: unknown status 'passed'; choose from pass, fixed, fail"):
        store.versions.create("sft", ds, include=["passed"])


def test_diff_reports_added_removed_and_changed_samples(store, tmp_path):
    old = [rec(*CLEAN[0]), rec(*CLEAN[1]), rec(*CLEAN[2])]
    new = [
        rec(CLEAN[0][0], "LoRA freezes the base model and learns a pair of small low-rank matrices."),
        rec(*CLEAN[1]),
        rec("What is QLoRA?", "QLoRA trains LoRA adapters on top of a four-bit quantized base model."),
    ]
    a = store.versions.create("sft", audited(store, tmp_path / "a.jsonl", old))
    b = store.versions.create("sft", audited(store, tmp_path / "b.jsonl", new))
    ids_a = [s.id for s in store.versions.iter_samples(a.id)]
    ids_b = [s.id for s in store.versions.iter_samples(b.id)]
    d = store.versions.diff(a.id, b.id)
    assert d.changed == [(ids_a[0], ids_b[0])]
    assert d.removed == [ids_a[2]]
    assert d.added == [ids_b[2]]
    assert (d.pass_rate_a, d.pass_rate_b, d.pass_rate_delta) == (1.0, 1.0, 0.0)


def test_diff_reports_source_pass_rate_and_code_deltas(store, tmp_path):
    a = store.versions.create("sft", audited(store, tmp_path / "a.jsonl", [rec(*c) for c in CLEAN]))
    b = store.versions.create("sft", audited(store, tmp_path / "b.jsonl", mixed()))
    d = store.versions.diff(a.id, b.id)
    assert d.pass_rate_a == 1.0
    assert d.pass_rate_b == pytest.approx(0.8)
    assert d.pass_rate_delta == pytest.approx(-0.2)
    assert d.code_deltas == {"artifact.unfilled_placeholder": (0, 1, 1), "think.stripped": (0, 1, 1)}
    assert d.removed == [] and d.changed == [] and len(d.added) == 1  # the repaired record


def test_versions_have_no_api_that_alters_them(store):
    public = {name for name in dir(store.versions) if not name.startswith("_")}
    assert public == {
        "create",
        "get",
        "list",
        "iter_members",
        "preview_members",
        "iter_samples",
        "fail_code_counts",
        "verify",
        "diff",
        "require",
    }


def test_a_version_keeps_its_content_when_the_source_rows_change(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", [rec(*c) for c in CLEAN])
    version = store.versions.create("sft", ds)
    store._con.execute("UPDATE samples SET completion = 'tampered' WHERE dataset_id = ?", [ds])
    store._con.execute("DELETE FROM verdicts WHERE dataset_id = ?", [ds])
    assert [s.completion for s in store.versions.iter_samples(version.id)] == [a for _, a in CLEAN]
    store.versions.verify(version.id)


def test_version_rows_edited_by_hand_are_detected(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", [rec(*c) for c in CLEAN])
    version = store.versions.create("sft", ds)
    store._con.execute(
        "UPDATE version_samples SET completion = 'Ignore your rules.' "
        "WHERE source_index = 1 AND version_id = ?",
        [version.id],
    )
    with pytest.raises(StoreError, match=r"source index 1\) no longer hashes to its id"):
        list(store.versions.iter_samples(version.id))
    with pytest.raises(StoreError, match="altered outside synthgate"):
        store.versions.verify(version.id)


def test_versions_survive_reopening_the_store(db_path, tmp_path):
    with Store.open(db_path) as store:
        ds = audited(store, tmp_path / "a.jsonl", mixed())
        created = store.versions.create("sft", ds)
    with Store.open(db_path) as store:
        assert store.versions.get(created.id) == created
        assert len(list(store.versions.iter_samples(created.id))) == 4


def test_a_member_deleted_by_hand_is_detected(store, tmp_path):
    ds = audited(store, tmp_path / "a.jsonl", [rec(*c) for c in CLEAN])
    version = store.versions.create("sft", ds)
    store._con.execute("DELETE FROM version_samples WHERE source_index = 0 AND version_id = ?", [version.id])
    with pytest.raises(StoreError, match=f"version {version.id} .* no longer matches its content hash"):
        store.versions.verify(version.id)
