"""The critic: a rubric prompt (separate from the teacher's) and its JSON scores 1-5."""

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


def critic_messages(job: Job, sample: Sample) -> list[dict[str, str]]:
    """The rubric prompt for one sample: the context the student sees, the question, the answer."""
    user = (
        f"Task type: {job.task}\n\nContext:\n{render_context(job.context)}\n\n"
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
