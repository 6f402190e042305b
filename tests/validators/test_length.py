"""Length budget with the real embedded Gemma tokenizer: completions fail, RAG context is cut."""

from __future__ import annotations

import random
import re

import pytest

from synthgate.models.embedded import embedded_tokenizer_dir, load_tokenizer
from synthgate.schemas.chain_config import LengthConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.length import LengthValidator

WORDS = (
    "model adapter gradient quantization context retrieval passage answer layer rank matrix memory "
    "training evaluation dataset token sequence attention weight optimizer schedule warmup batch"
).split()
SYSTEM = "Answer only from the provided context and cite the paper title."
QUESTION = "\n\nQuestion: what does the paper report about warmup?"


def text_of(tok, n_tokens: int, seed: int) -> str:
    """Prose of exactly `n_tokens` tokens (cut at a token boundary of a longer text)."""
    rng = random.Random(seed)
    words = [rng.choice(WORDS) + ("." if i % 11 == 10 else "") for i in range(n_tokens)]
    text = " ".join(words)
    offsets = tok.backend_tokenizer.encode(text, add_special_tokens=False).offsets
    assert len(offsets) > n_tokens
    return text[: offsets[n_tokens][0]]


def n_tokens(tok, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=False))


def rag_sample(context: str, answer: str) -> Sample:
    return Sample(
        system_prompt=SYSTEM,
        prompt=[Message(role="user", content="Context:\n" + context + QUESTION)],
        completion=answer,
    )


@pytest.fixture(scope="module")
def validator(gemma_tokenizer):
    return LengthValidator(LengthConfig(max_length=1024), tokenizer=gemma_tokenizer)


def test_completion_over_budget_fails_and_is_never_truncated(validator, gemma_tokenizer):
    answer = text_of(gemma_tokenizer, 1275, seed=1)
    assert n_tokens(gemma_tokenizer, answer) == 1275
    sample = rag_sample("Short context.", answer)

    result = validator.check(sample)

    assert [(v.code, v.status) for v in result.verdicts] == [("length.completion_over_budget", "fail")]
    assert result.sample is sample
    assert re.search(r"completion is 1275 tokens; .* > max_length 1024", result.verdicts[0].message)
    span = result.verdicts[0].span
    # the span is the part a truncating trainer would have dropped: everything past the budget
    assert span.field == "completion" and span.end == len(answer)
    assert 1000 < n_tokens(gemma_tokenizer, answer[: span.start]) < 1024


def test_long_rag_context_is_middle_truncated_keeping_head_and_tail(validator, gemma_tokenizer):
    context = text_of(gemma_tokenizer, 3000, seed=2)
    answer = text_of(gemma_tokenizer, 200, seed=3)
    sample = rag_sample(context, answer)
    user = sample.prompt[0].content

    result = validator.check(sample)

    [v] = result.verdicts
    assert (v.code, v.status) == ("length.prompt_truncated", "fixed")
    assert v.span.field == "prompt" and 0 < v.span.start < v.span.end < len(user)
    new_user = result.sample.prompt[0].content
    head, tail = user[: v.span.start], user[v.span.end :]
    assert new_user == head + "\n[...]\n" + tail
    assert head.startswith("Context:\n") and tail.endswith(QUESTION)
    # first third / last two thirds of the kept user tokens
    ratio = n_tokens(gemma_tokenizer, head) / n_tokens(gemma_tokenizer, tail)
    assert 0.45 < ratio < 0.55
    assert result.sample.completion == answer and result.sample.system_prompt == SYSTEM
    prompt_tokens, completion_tokens = validator.token_counts([result.sample])[0]
    assert prompt_tokens + completion_tokens <= 1024
    cut = int(re.search(r"cut (\d+) of \d+ tokens", v.message).group(1))
    assert cut == pytest.approx(n_tokens(gemma_tokenizer, user[v.span.start : v.span.end]), abs=3)
    assert cut > 2000


def test_only_the_last_user_turn_is_cut(validator, gemma_tokenizer):
    first = "Earlier question about adapters?"
    sample = Sample(
        prompt=[
            Message(role="user", content=first),
            Message(role="assistant", content="Adapters are small."),
            Message(role="user", content=text_of(gemma_tokenizer, 1500, seed=4)),
        ],
        completion="Warmup helps.",
    )

    result = validator.check(sample)

    assert [v.code for v in result.verdicts] == ["length.prompt_truncated"]
    assert [m.content for m in result.sample.prompt[:2]] == [first, "Adapters are small."]
    assert sum(validator.token_counts([result.sample])[0]) <= 1024


def test_prompt_and_completion_that_fit_pass_unchanged(validator, gemma_tokenizer):
    sample = rag_sample(text_of(gemma_tokenizer, 600, seed=5), text_of(gemma_tokenizer, 300, seed=6))

    result = validator.check(sample)

    assert result.verdicts == [] and result.sample is sample


def test_system_prompt_alone_too_long_is_prompt_over_budget(validator, gemma_tokenizer):
    sample = Sample(
        system_prompt=text_of(gemma_tokenizer, 1000, seed=7),
        prompt=[Message(role="user", content="Context: short." + QUESTION)],
        completion=text_of(gemma_tokenizer, 100, seed=8),
    )

    result = validator.check(sample)

    assert [(v.code, v.status) for v in result.verdicts] == [("length.prompt_over_budget", "fail")]
    assert result.sample is sample
    assert re.search(
        r"even with the last user turn emptied the prompt is \d+ tokens", result.verdicts[0].message
    )


def test_token_counts_match_the_rendered_gemma_chat(validator, gemma_tokenizer):
    sample = rag_sample("LoRA trains low-rank adapters.", "It trains adapters.")
    msgs = sample.messages()
    prompt = gemma_tokenizer.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    full = gemma_tokenizer.apply_chat_template(msgs, tokenize=False)

    assert validator.token_counts([sample]) == [
        (n_tokens(gemma_tokenizer, prompt), n_tokens(gemma_tokenizer, full[len(prompt) :]))
    ]


def test_batch_gives_the_same_results_as_one_by_one(validator, gemma_tokenizer):
    samples = [
        rag_sample("Short.", "Fine."),
        rag_sample("Short.", text_of(gemma_tokenizer, 1100, seed=9)),
        rag_sample(text_of(gemma_tokenizer, 2000, seed=10), "Fine."),
    ]

    batch = validator.check_batch(samples)

    assert [[v.code for v in r.verdicts] for r in batch] == [
        [],
        ["length.completion_over_budget"],
        ["length.prompt_truncated"],
    ]
    assert batch == [validator.check(s) for s in samples]


def test_tokenizer_without_chat_template_uses_the_plain_layout():
    tok = load_tokenizer(str(embedded_tokenizer_dir()))
    assert tok.chat_template is None
    validator = LengthValidator(LengthConfig(max_length=64), tokenizer=tok)
    sample = Sample(
        system_prompt="Be brief.", prompt=[Message(role="user", content="Hi?")], completion="Hello."
    )

    counts = validator.token_counts([sample])

    prompt = "System: Be brief.\n\nUser: Hi?\n\nAssistant: "
    assert counts == [(n_tokens(tok, prompt), n_tokens(tok, "Hello.<eos>"))]
    long = sample.replace(completion=text_of(tok, 80, seed=11))
    assert [v.code for v in validator.check(long).verdicts] == ["length.completion_over_budget"]


def test_chain_counts_a_sample_repaired_before_length_on_its_repaired_text(gemma_tokenizer):
    # The chain starts tokenizing a batch before the checks ahead of `length` run (prefetch); a
    # sample they repair (a reasoning block stripped) must be counted as it leaves them.
    from synthgate.schemas.chain_config import ChainConfig
    from synthgate.validators.chain import Chain

    thinking = rag_sample("Short.", "<think>" + text_of(gemma_tokenizer, 300, seed=12) + "</think>\n\nFine.")
    plain = rag_sample("Short.", "Fine too.")
    chain = Chain(ChainConfig(order=["thinking", "length"]), tokenizer=gemma_tokenizer)
    length = LengthValidator(LengthConfig(), tokenizer=gemma_tokenizer)

    results = chain.run_batch([thinking, plain])

    assert [[v.code for v in r.verdicts] for r in results] == [["think.stripped"], []]
    assert results[0].sample.completion == "Fine."
    assert [r.tokens for r in results] == length.token_counts([results[0].sample, plain])
    assert results[0].tokens != length.token_counts([thinking])[0]


def test_chain_started_ahead_gives_the_results_of_a_plain_run(gemma_tokenizer):
    # The audit starts the next batch (its tokens counted in a thread) before finishing this one.
    from synthgate.schemas.chain_config import ChainConfig
    from synthgate.validators.chain import Chain

    samples = [rag_sample("Short.", "Fine."), rag_sample(text_of(gemma_tokenizer, 2000, seed=13), "Fine.")]
    config = ChainConfig(order=["length"], length=LengthConfig(max_length=1024))
    chain = Chain(config, tokenizer=gemma_tokenizer)

    first, second = chain.start_batch(samples[:1]), chain.start_batch(samples[1:])
    results = second() + first()

    assert [[v.code for v in r.verdicts] for r in results] == [["length.prompt_truncated"], []]
    assert results == [chain.run(samples[1]), chain.run(samples[0])]
