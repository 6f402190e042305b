"""Reasoning kept in its own field counts toward max_length in thinking `keep` mode."""

from __future__ import annotations

from synthgate.schemas.chain_config import ChainConfig, LengthConfig, ThinkingConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.chain import Chain
from synthgate.validators.length import LengthValidator

THOUGHTS = " ".join(f"Step {i}: add the next number to the running total." for i in range(40))


def sample(reasoning: str | None = THOUGHTS, completion: str = "The sum is 820.") -> Sample:
    return Sample(
        prompt=[Message(role="user", content="Sum 1..40?")], completion=completion, reasoning=reasoning
    )


def test_reasoning_is_counted_as_a_think_block_before_the_completion(gemma_tokenizer):
    plain = LengthValidator(LengthConfig(max_length=4096), tokenizer=gemma_tokenizer)
    counting = LengthValidator(LengthConfig(max_length=4096), tokenizer=gemma_tokenizer, count_reasoning=True)
    (_, without), (_, with_reasoning) = (
        plain.token_counts([sample()])[0],
        counting.token_counts([sample()])[0],
    )
    block = f"<think>\n{THOUGHTS}\n</think>\n\n"
    extra = len(gemma_tokenizer.backend_tokenizer.encode(block, add_special_tokens=False).ids)
    assert abs(with_reasoning - without - extra) <= 2  # token merges at the seam
    assert counting.token_counts([sample(reasoning=None)]) == plain.token_counts([sample(reasoning=None)])


def test_completion_with_reasoning_over_budget_fails_with_a_span_inside_the_completion(gemma_tokenizer):
    v = LengthValidator(LengthConfig(max_length=128), tokenizer=gemma_tokenizer, count_reasoning=True)
    (found,) = v.check(sample()).verdicts
    assert found.code == "length.completion_over_budget"
    assert "with its reasoning" in found.message
    assert (found.span.field, found.span.start, found.span.end) == ("completion", 0, len("The sum is 820."))


def test_chain_counts_reasoning_only_in_keep_mode(gemma_tokenizer):
    def codes(mode: str) -> list[str]:
        config = ChainConfig(thinking=ThinkingConfig(mode=mode), length=LengthConfig(max_length=128))
        return [v.code for v in Chain(config, tokenizer=gemma_tokenizer).run(sample()).verdicts]

    assert codes("strip") == []
    assert codes("keep") == ["length.completion_over_budget"]
