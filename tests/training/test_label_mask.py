"""The label-mask check passes completion-only batches and fails anything that trains on the prompt."""

from __future__ import annotations

import doctest

import pytest
import torch
from datasets import Dataset
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

import synthgate.training.sft as sft
from synthgate.training.sft import LabelMaskError, check_label_mask

PROMPTS = [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is LoRA?"}],
    [{"role": "user", "content": "Name a prime number larger than ten, please."}],
]
COMPLETIONS = [
    [{"role": "assistant", "content": "A low-rank adapter."}],
    [{"role": "assistant", "content": "Eleven."}],
]


def encode(tok, messages, **kw):
    return tok(tok.apply_chat_template(messages, tokenize=False, **kw), add_special_tokens=False)["input_ids"]


@pytest.fixture(scope="module")
def rows(gemma_tokenizer):
    """Real token rows with completion-only labels, and each row's prompt length."""
    out = []
    for prompt, completion in zip(PROMPTS, COMPLETIONS, strict=True):
        prompt_ids = encode(gemma_tokenizer, prompt, add_generation_prompt=True)
        ids = encode(gemma_tokenizer, prompt + completion)
        assert ids[: len(prompt_ids)] == prompt_ids
        labels = [-100] * len(prompt_ids) + ids[len(prompt_ids) :]
        out.append({"input_ids": ids, "labels": labels, "prompt": prompt, "prompt_len": len(prompt_ids)})
    return out


def collate(rows, gemma_tokenizer, labels_from=None):
    """Pad like TRL's own collator; `labels_from` swaps in another labels column."""
    collator = DataCollatorForLanguageModeling(pad_token_id=gemma_tokenizer.pad_token_id)
    return collator([{"input_ids": r["input_ids"], "labels": r[labels_from or "labels"]} for r in rows])


def test_completion_only_batch_passes(rows, gemma_tokenizer):
    batch = collate(rows, gemma_tokenizer)
    assert (batch["attention_mask"] == 0).any()  # the rows differ in length, so padding is checked too
    check_label_mask(batch, [r["prompt_len"] for r in rows])


def test_full_sequence_labels_fail_naming_the_leaking_prompt_tokens(rows, gemma_tokenizer):
    batch = collate(rows, gemma_tokenizer, labels_from="input_ids")
    n0, n1 = rows[0]["prompt_len"], rows[1]["prompt_len"]
    with pytest.raises(
        LabelMaskError, match=rf"row 0: {n0} prompt token\(s\) carry labels \(first at position 0\)"
    ):
        check_label_mask(batch, [n0, n1])
    with pytest.raises(LabelMaskError, match=rf"\nrow 1: {n1} prompt token\(s\) carry labels"):
        check_label_mask(batch, [n0, n1])


def test_masked_completion_fails(rows, gemma_tokenizer):
    batch = collate(rows, gemma_tokenizer)
    batch["labels"][1, rows[1]["prompt_len"] + 1] = -100
    with pytest.raises(
        LabelMaskError,
        match=rf"^row 1: 1 of \d+ completion token\(s\) are masked or mislabelled \(first at position "
        rf"{rows[1]['prompt_len'] + 1}\)$",
    ):
        check_label_mask(batch, [r["prompt_len"] for r in rows])


def test_labelled_padding_fails(rows, gemma_tokenizer):
    batch = collate(rows, gemma_tokenizer)
    padded = batch["attention_mask"] == 0
    batch["labels"][padded] = gemma_tokenizer.pad_token_id
    with pytest.raises(LabelMaskError, match=r"row 1: \d+ padding token\(s\) carry labels"):
        check_label_mask(batch, [r["prompt_len"] for r in rows])


def test_a_row_that_is_all_prompt_fails():
    batch = {"input_ids": torch.tensor([[2, 5, 6]]), "labels": torch.full((1, 3), -100)}
    with pytest.raises(LabelMaskError, match=r"row 0: no completion tokens"):
        check_label_mask(batch, [3])


def test_prompt_lengths_must_cover_every_row():
    batch = {"input_ids": torch.tensor([[2, 5, 6]]), "labels": torch.tensor([[-100, 5, 6]])}
    with pytest.raises(ValueError, match=r"2 prompt lengths for a batch of 1 rows"):
        check_label_mask(batch, [1, 1])


def test_reference_lengths_follow_shuffled_rows_by_retokenizing_prompts(rows, gemma_tokenizer):
    prepared = Dataset.from_list([{k: r[k] for k in ("prompt", "input_ids", "labels")} for r in rows])
    batch = collate(rows[::-1], gemma_tokenizer)  # the dataloader shuffles: row order != dataset order
    lengths = sft._reference_prompt_lengths(batch, prepared, gemma_tokenizer)
    assert lengths == [rows[1]["prompt_len"], rows[0]["prompt_len"]]
    check_label_mask(batch, lengths)


def test_a_prompt_rendered_differently_in_training_is_refused(rows, gemma_tokenizer):
    # The training sequence lost the system prompt: the re-tokenized prompt is no longer its prefix.
    shifted = [{**rows[0], "prompt": PROMPTS[0]}, rows[1]]
    stripped = encode(gemma_tokenizer, PROMPTS[0][1:] + COMPLETIONS[0])
    shifted[0] = {**shifted[0], "input_ids": stripped, "labels": stripped}
    prepared = Dataset.from_list([{k: r[k] for k in ("prompt", "input_ids", "labels")} for r in shifted])
    with pytest.raises(
        LabelMaskError, match=r"row 0: the prompt alone tokenizes to \d+ tokens but only the first"
    ):
        sft._reference_prompt_lengths(collate(shifted, gemma_tokenizer), prepared, gemma_tokenizer)


def test_a_batch_row_missing_from_the_dataset_is_refused(rows, gemma_tokenizer):
    prepared = Dataset.from_list([{k: rows[0][k] for k in ("prompt", "input_ids", "labels")}])
    with pytest.raises(LabelMaskError, match=r"row 1 of the first batch matches no prepared training record"):
        sft._reference_prompt_lengths(collate(rows, gemma_tokenizer), prepared, gemma_tokenizer)


def test_docstring_example_runs():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(check_label_mask, "check_label_mask", globs=vars(sft)):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted >= 3 and results.failed == 0
