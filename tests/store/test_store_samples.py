"""Samples survive a round trip through the DuckDB file column by column."""

from __future__ import annotations

import pytest
from store_helpers import make_row, make_sample, new_dataset

from synthgate.errors import NotFound, StoreError
from synthgate.schemas.sample import Message, SampleMetadata
from synthgate.store import SampleRow, Store


def test_samples_round_trip_with_reasoning_metadata_and_original(db_path):
    original = make_sample(
        "<think>France, capital...</think>Paris.",
        system_prompt="Answer from the context only.",
        prompt=[
            Message(role="user", content="Capital of France?"),
            Message(role="assistant", content="Which country?"),
            Message(role="user", content="France — «ça va»"),
        ],
        task_type="grounded",
        metadata=SampleMetadata(
            persona="student",
            source_ids=["doc-1#3"],
            teacher_model="qwen",
            critic_scores={"faithful": 4.5},
            generation_params={"temperature": 0.7, "max_tokens": 512},
            finish_reason="stop",
            extra={"input_id": "q1", "nested": {"a": [1, 2]}},
        ),
    )
    repaired = original.replace(completion="Paris.", reasoning="France, capital...")
    rows = [
        SampleRow(0, "q1", repaired, original, None),
        SampleRow(1, None, make_sample("Plain."), None, None),
    ]
    with Store.open(db_path) as store:
        ds = new_dataset(store)
        store.samples.add_batch(ds, rows)
    with Store.open(db_path) as store:
        back = list(store.samples.iter(ds))
    assert back == rows
    assert back[0].sample.id == repaired.id and back[0].sample.reasoning == "France, capital..."
    assert back[0].original.completion.startswith("<think>")
    assert back[0].sample.metadata.generation_params == {"temperature": 0.7, "max_tokens": 512}


def test_original_identical_to_the_repaired_sample_is_not_stored_twice(store):
    ds = new_dataset(store)
    sample = make_sample()
    store.samples.add_batch(ds, [SampleRow(0, None, sample, sample, None)])
    assert store.samples.get(ds, 0) == SampleRow(0, None, sample, None, None)


def test_unreadable_record_keeps_raw_text_truncated_to_2000_chars(store):
    ds = new_dataset(store)
    store.samples.add_batch(ds, [SampleRow(0, None, None, None, "x" * 5000)])
    row = store.samples.get(ds, 0)
    assert row.sample is None and row.original is None
    assert row.raw == "x" * 2000


def test_iter_streams_in_index_order_across_batches(store):
    ds = new_dataset(store)
    store.samples.add_batch(ds, [make_row(i) for i in range(4000, 9000)])
    store.samples.add_batch(ds, [make_row(i) for i in reversed(range(4000))])
    indexes = [row.index for row in store.samples.iter(ds)]
    assert indexes == list(range(9000))
    assert store.samples.count(ds) == 9000


def test_iter_leaves_other_queries_usable_while_streaming(store):
    ds = new_dataset(store)
    store.samples.add_batch(ds, [make_row(i) for i in range(2500)])
    seen = [store.samples.get(ds, row.index).index for row in store.samples.iter(ds)]
    assert seen == list(range(2500))


def test_get_of_a_missing_index_is_none(store):
    ds = new_dataset(store)
    assert store.samples.get(ds, 7) is None


def test_storing_an_index_twice_is_a_store_error(store):
    ds = new_dataset(store)
    store.samples.add_batch(ds, [make_row(0)])
    with pytest.raises(StoreError, match="(?i)constraint|duplicate"):
        store.samples.add_batch(ds, [make_row(0)])


def test_samples_for_an_unknown_dataset_are_refused(store):
    with pytest.raises(NotFound, match="no dataset 'ds_nope'"):
        store.samples.add_batch("ds_nope", [make_row(0)])


def test_secrets_and_pii_are_stored_masked_at_the_same_length_with_the_id_rehashed(store):
    key = "sk-" + "proj-" + "Q7rT2vX9kL4mN8pW3zY6bC1dF5gH0jKs"
    completion = f"Use {key} and mail jane.doe@gmail.com [location]."
    sample = make_sample(
        completion,
        system_prompt=f"Token: {key}",
        prompt=[Message(role="user", content="Call +44 20 7946 0958 please.")],
        metadata=SampleMetadata(extra={"input_id": "x", "note": f"key {key}"}),
    )
    ds = new_dataset(store)
    store.samples.add_batch(ds, [SampleRow(0, "user-jane.doe@gmail.com", sample, None, None)])
    row = store.samples.get(ds, 0)
    stored = row.sample
    assert len(stored.completion) == len(completion) and stored.completion.endswith("[location].")
    start = completion.index(key)
    assert stored.completion[start : start + len(key)] == "sk-p" + "*" * (len(key) - 6) + "Ks"
    assert (
        "jane.doe@gmail.com" not in stored.completion and "+44 20 7946 0958" not in stored.prompt[0].content
    )
    assert key not in (stored.system_prompt or "") and key not in stored.metadata.extra["note"]
    assert row.input_id == "user" + "*" * 17 + "om"  # the address, masked where it is
    assert stored.id != sample.id and stored.id == stored.replace().id  # the hash of what is stored


def test_raw_text_of_an_unreadable_record_is_masked_before_the_cut(store):
    key = "gh" + "p_" + "Q7rT2vX9kL4mN8pW3zY6bC1dF5gH0jKsA1b2"
    ds = new_dataset(store)
    store.samples.add_batch(ds, [SampleRow(0, None, None, None, "x" * 1979 + " " + key)])
    assert store.samples.get(ds, 0).raw == "x" * 1979 + " " + key[:4] + "*" * 16
