"""The critic: a rubric prompt (separate from the teacher's) and its JSON scores 1-5; and the
teacher's optional self-check, a yes/no verification of its own answer against the context."""

from __future__ import annotations

import json
from typing import Any

from synthgate.pipelines.tasks import Job, render_context
from synthgate.schemas.sample import Sample

CRITERIA = ("groundedness", "correctness", "relevance", "format")

SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{c: {"type": "number", "minimum": 1, "maximum": 5} for c in CRITERIA},
        "rationale": {"type": "string"},
    },
    "required": [*CRITERIA, "rationale"],
    "additionalProperties": False,
}

_SYSTEM = (
    "You grade training samples for a retrieval-augmented assistant. Score each criterion from 1 "
    "(bad) to 5 (excellent):\n"
    "- groundedness: every claim in the answer is supported by the context (a refusal is grounded "
    "when the context really lacks the answer);\n"
    "- correctness: the answer is right and complete for the question;\n"
    "- relevance: the answer addresses the question asked;\n"
    "- format: plain prose, no leftover markup, no repeated or invented extra questions.\n"
    "Reply with ONE JSON object and nothing else, satisfying this JSON Schema:\n{schema}"
)


def _context(job: Job) -> str:
    # `answer` jobs have no passages: the answer is judged on its own (groundedness = no invented facts).
    return render_context(job.context) if job.context else "(none: judge the answer on its own merits)"


def critic_messages(job: Job, sample: Sample) -> list[dict[str, str]]:
    """The rubric prompt for one sample: the context the student sees, the question, the answer."""
    user = (
        f"Task type: {job.task}\n\nContext:\n{_context(job)}\n\n"
        f"Question / request:\n{sample.prompt[-1].content}\n\nAnswer to grade:\n{sample.completion}"
    )
    system = _SYSTEM.format(schema=json.dumps(SCORE_SCHEMA, separators=(",", ":")))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def mean_score(scores: dict[str, float]) -> float:
    """The mean over the rubric criteria.

    >>> mean_score({"groundedness": 5, "correctness": 4, "relevance": 4, "format": 3})
    4.0
    """
    return sum(float(scores[c]) for c in CRITERIA) / len(CRITERIA)


SELF_CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"supported": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["supported", "reason"],
    "additionalProperties": False,
}

_SELF_CHECK_SYSTEM = (
    "You check an answer against the context it was written from. `supported` is true only when "
    "every claim in the answer is stated in the context and the answer addresses the question; for "
    "an answer that declines because the context is insufficient, true only when the context really "
    "does not answer the question. Reply with ONE JSON object and nothing else, satisfying this JSON "
    "Schema:\n{schema}"
)


def self_check_messages(job: Job, sample: Sample) -> list[dict[str, str]]:
    """The teacher's verification prompt for its own sample (same context, question and answer)."""
    user = (
        f"Context:\n{_context(job)}\n\n"
        f"Question / request:\n{sample.prompt[-1].content}\n\nAnswer to check:\n{sample.completion}"
    )
    system = _SELF_CHECK_SYSTEM.format(schema=json.dumps(SELF_CHECK_SCHEMA, separators=(",", ":")))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def top_jobs(scored: dict[int, dict[str, float]], n: int) -> set[int]:
    """The `n` jobs with the highest mean score; ties go to the earlier job (deterministic on resume).

    >>> three, five = dict.fromkeys(CRITERIA, 3), dict.fromkeys(CRITERIA, 5)
    >>> top_jobs({0: three, 1: five, 2: five}, 2)
    {1, 2}
    """
    ranked = sorted(scored, key=lambda job: (-mean_score(scored[job]), job))
    return set(ranked[:n])
