"""Replies that parse but did not do the task: instruction echo and refusal jobs that answer anyway."""

from __future__ import annotations

import pytest
from pipeline_helpers import base_config

from synthgate.pipelines.config import GenerateConfig
from synthgate.pipelines.personas import builtin_personas
from synthgate.pipelines.reply_checks import (
    INSTRUCTION_ECHO,
    REFUSAL_MISSING,
    ReplyRejected,
    check_reply,
)
from synthgate.pipelines.sources import Chunk
from synthgate.pipelines.tasks import Job, teacher_prompt

LORA = Chunk("c_lora", "lora.md", "LoRA freezes the base weights. A rank of 8 is a common start.")
QUANT = Chunk("c_quant", "quant.md", "Four-bit formats cut memory use by about four times.")
CONFIG = GenerateConfig.model_validate(base_config("http://127.0.0.1:9"))
PERSONA = builtin_personas()[0]


def _check(job: Job, question: str, answer: str) -> None:
    check_reply(job, teacher_prompt(job, CONFIG), {"question": question, "answer": answer, "sources": []})


GROUNDED = Job(0, "grounded", PERSONA, [LORA])
REFUSAL = Job(1, "refusal", PERSONA, [QUANT], hidden=LORA)


@pytest.mark.parametrize(
    ("job", "question", "answer", "why"),
    [
        # Seen from the embedded 0.5B teacher: the format instruction as the whole answer.
        (GROUNDED, "What rank is a common start?", "complete sentences", "answer 'complete sentences'"),
        (GROUNDED, "Write one question", "A rank of 8.", "question 'Write one question'"),
        (REFUSAL, "What is in the topic passage?", "The context does not say.", "'topic passage'"),
        (GROUNDED, "What does the hidden passage say?", "It says LoRA freezes weights.", "'hidden passage'"),
    ],
)
def test_a_reply_that_echoes_its_instructions_is_rejected(job, question, answer, why):
    with pytest.raises(ReplyRejected, match="repeats the instructions|names the prompt") as err:
        _check(job, question, answer)
    assert err.value.code == INSTRUCTION_ECHO
    assert why.split("'")[1].lower() in str(err.value).lower()


def test_a_short_answer_taken_from_the_passage_is_not_an_echo():
    # Words that the instructions also contain are fine when the passage has them too.
    _check(GROUNDED, "What rank is a common start for LoRA?", "a rank of 8")
    _check(GROUNDED, "What does LoRA freeze?", "LoRA freezes the base weights.")


def test_a_refusal_job_must_decline():
    with pytest.raises(ReplyRejected) as err:
        _check(REFUSAL, "What rank does LoRA start with?", "LoRA usually starts with a rank of 8.")
    assert err.value.code == REFUSAL_MISSING
    _check(
        REFUSAL,
        "What rank does LoRA start with?",
        "I'm sorry, but the provided context does not contain enough information to answer that.",
    )


def test_custom_and_answer_tasks_are_not_checked():
    custom = Job(2, "custom", PERSONA, [LORA])
    check_reply(custom, teacher_prompt(GROUNDED, CONFIG), {"question": "topic passage", "answer": "x"})
