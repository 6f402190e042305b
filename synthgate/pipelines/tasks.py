"""Task types: which chunks a job shows, the teacher's prompt, and the sample built from its JSON.

Every task asks the teacher for one JSON object checked with jsonschema. Question/answer tasks
(grounded, synthesis, refusal, raft) use `{"question", "answer", "sources"}` where `sources` may
only name the chunk ids the job gave (a refusal cites none); `custom` uses the user's schema;
`answer` (the source is a dataset's prompts) asks only for `{"answer"}` to an existing prompt.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from synthgate.pipelines.config import GenerateConfig
from synthgate.pipelines.personas import BalancedPlan, Persona
from synthgate.pipelines.sources import Chunk, SourcePrompt
from synthgate.schemas.sample import Message, Sample, SampleMetadata
from synthgate.validators.codes import registered

QA_TASKS = ("grounded", "synthesis", "refusal", "raft")
ANSWER_TASK = "answer"

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "minLength": 1}},
    "required": ["answer"],
    "additionalProperties": False,
}

_INSTRUCTIONS = {
    "grounded": "Write one question this person would ask that passage {ids} answers, and its answer "
    "in one to four complete sentences (no markdown headers or bullet lists), using only facts "
    "stated in the passage. "
    'Set "sources" to the ids of the passages the answer uses.',
    "synthesis": "Write one question this person would ask that needs BOTH passages {ids} to answer "
    "(compare or combine them), and its answer in complete sentences (no headers or bullets) using "
    'only facts stated in them. Set "sources" to the ids of both passages.',
    "refusal": "Write one question this person would ask about the subject of the topic passage below. "
    "The assistant will only see the OTHER passages {ids}, which do not answer it, so the answer must "
    "politely say that the provided context does not contain enough information, in one or two "
    'sentences, without answering from outside knowledge. Set "sources" to [].',
    "raft": "Write one question this person would ask that exactly one of the passages {ids} answers, "
    "and its answer in complete sentences (no headers or bullets) using only that passage, ignoring "
    "the others. "
    'Set "sources" to the id of the passage the answer uses.',
}

_TEACHER_SYSTEM = (
    "You write training data for a retrieval-augmented assistant. Reply with ONE JSON object and "
    "nothing else (no code fences, no commentary) that satisfies this JSON Schema:\n{schema}"
)


@dataclass(frozen=True)
class Job:
    """One unit of generation: job index, task type, persona, and the chunks involved."""

    index: int
    task: str
    persona: Persona
    context: list[Chunk]
    hidden: Chunk | None = None  # refusal: the passage the question is about, never shown to the student
    prompt: SourcePrompt | None = None  # answer: the existing prompt to answer

    @property
    def source_ids(self) -> list[str]:
        return [self.prompt.id] if self.prompt is not None else [c.id for c in self.context]


@dataclass
class TeacherPrompt:
    """What the teacher is sent, and the schema its reply must satisfy."""

    messages: list[dict[str, str]]
    schema: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


class JobPlanner:
    """Job index -> Job, deterministic in (seed, index): a resumed run plans the same jobs."""

    def __init__(
        self,
        config: GenerateConfig,
        chunks: list[Chunk],
        personas: list[Persona],
        prompts: list[SourcePrompt] | None = None,
    ) -> None:
        self._config = config
        self._chunks = chunks
        self._pools: dict[str, list[Chunk]] = {}  # chunk id -> the chunks that may be its distractors
        self._prompts = prompts or []
        weights = {ANSWER_TASK: 1.0} if self._prompts else config.tasks.weights()
        self._plan = BalancedPlan(weights, personas, seed=config.seed)
        # Oracle chunks cycle through a seeded permutation so chunk coverage is even too.
        self._order = list(chunks)
        random.Random(f"{config.seed}:chunks").shuffle(self._order)

    def job(self, index: int) -> Job:
        task, k = self._plan.task(index)
        persona = self._plan.persona(task, k)
        if task == ANSWER_TASK:
            # Prompts in dataset order, cycling when `count` exceeds them.
            return Job(index, task, persona, [], prompt=self._prompts[k % len(self._prompts)])
        rng = random.Random(f"{self._config.seed}:job:{index}")
        main = self._order[k % len(self._order)]
        tasks = self._config.tasks
        if task == "synthesis":
            return Job(index, task, persona, [main, self._other(main, rng)])
        if task == "refusal":
            return Job(
                index, task, persona, self._distractors(main, tasks.refusal_distractors, rng), hidden=main
            )
        if task == "raft":
            context = [main, *self._distractors(main, tasks.raft_distractors, rng)]
            rng.shuffle(context)
            return Job(index, task, persona, context)
        return Job(index, task, persona, [main])

    def _other(self, main: Chunk, rng: random.Random) -> Chunk:
        return self._distractors(main, 1, rng)[0]

    def _distractors(self, main: Chunk, n: int, rng: random.Random) -> list[Chunk]:
        # Prefer other documents (they do not answer the question); fall back to other chunks of
        # the same document when the sources hold a single document.
        pool = self._pools.get(main.id)
        if pool is None:
            # Cached per chunk: a scan of every chunk per job made planning O(jobs x chunks).
            pool = [c for c in self._chunks if c.doc != main.doc] or [
                c for c in self._chunks if c.id != main.id
            ]
            pool = self._pools[main.id] = pool or [main]
        return rng.sample(pool, min(n, len(pool)))


def render_context(chunks: list[Chunk]) -> str:
    """The context block the student sees: one `[id] text` paragraph per chunk."""
    return "\n\n".join(f"[{c.id}] {c.text}" for c in chunks)


def qa_schema(job: Job) -> dict[str, Any]:
    """The reply schema of a question/answer task; `sources` may name only the job's chunk ids."""
    sources: dict[str, Any] = {"type": "array", "items": {"enum": job.source_ids}, "uniqueItems": True}
    if job.task == "refusal":
        sources = {"type": "array", "maxItems": 0}
    else:
        sources["minItems"] = 1
    return {
        "type": "object",
        "properties": {
            "question": {"type": "string", "minLength": 5},
            "answer": {"type": "string", "minLength": 1},
            "sources": sources,
        },
        "required": ["question", "answer", "sources"],
        "additionalProperties": False,
    }


def render_conversation(prompt: SourcePrompt) -> str:
    """An existing prompt as the teacher sees it: the system prompt, then `Role: text` turns."""
    parts = [f"System prompt: {prompt.system_prompt}"] if prompt.system_prompt else []
    parts += [f"{m.role.capitalize()}: {m.content}" for m in prompt.turns]
    return "\n\n".join(parts)


def teacher_prompt(job: Job, config: GenerateConfig) -> TeacherPrompt:
    """The teacher's messages for `job`."""
    if job.prompt is not None:
        schema = ANSWER_SCHEMA
        user = (
            "Write the assistant's next reply to this conversation: helpful, correct and in plain "
            'prose, following the system prompt if there is one. Put it in "answer".\n\n'
            f"Conversation:\n{render_conversation(job.prompt)}"
        )
    elif job.task == "custom":
        custom = config.tasks.custom_task
        assert custom is not None
        schema = custom.output_schema
        user = custom.template.format(context=render_context(job.context), persona=job.persona.describe())
    else:
        schema = qa_schema(job)
        ids = ", ".join(job.source_ids)
        parts = [
            f"The question is asked by {job.persona.describe()}.",
            _INSTRUCTIONS[job.task].format(ids=ids),
        ]
        if job.hidden is not None:
            parts.append(f"Topic passage (what the question is about; never cite it):\n{job.hidden.text}")
        parts.append(f"Passages:\n{render_context(job.context)}")
        user = "\n\n".join(parts)
    system = _TEACHER_SYSTEM.format(schema=json.dumps(schema, separators=(",", ":")))
    return TeacherPrompt([{"role": "system", "content": system}, {"role": "user", "content": user}], schema)


INVALID_JSON = registered("gen.invalid_json")
SCHEMA_VIOLATION = registered("gen.schema_violation")


class OutputError(ValueError):
    """A reply that is not a JSON object satisfying its schema; `code` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_LEADING_THINK = re.compile(r"^<(think|thinking|reasoning)>.*?</\1>\s*", re.S | re.I)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse_output(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object in a reply, validated against `schema`; OutputError otherwise.

    Tolerates a code fence and a reasoning block before the object (`<think>...</think>{...}`):
    only the text after the block is parsed, so reasoning never reaches the sample.

    >>> parse_output('<think>hmm</think> {"a": 1}', {"type": "object"})
    {'a': 1}
    """
    body = _LEADING_THINK.sub("", text.strip(), count=1)
    if m := _FENCE.match(body):
        body = m.group(1)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as err:
        raise OutputError(INVALID_JSON, f"reply is not JSON: {err.msg} at char {err.pos}") from None
    if not isinstance(data, dict):
        raise OutputError(INVALID_JSON, f"reply is JSON {type(data).__name__}, not an object")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(top level)"
        raise OutputError(SCHEMA_VIOLATION, f"reply violates its schema at {where}: {errors[0].message}")
    return data


def build_sample(
    job: Job, output: dict[str, Any], config: GenerateConfig, metadata: dict[str, Any]
) -> Sample:
    """The training sample: the student's system prompt, context + question, and the answer (for
    `answer` jobs: the source prompt as it was, its own system prompt if it had one).

    Built only from the parsed final content; reasoning from the backend never enters it.
    """
    system_prompt = config.system_prompt
    if job.prompt is not None:
        system_prompt = job.prompt.system_prompt if job.prompt.system_prompt is not None else system_prompt
        turns = list(job.prompt.turns)
        completion = output["answer"]
    elif job.task == "custom":
        custom = config.tasks.custom_task
        assert custom is not None
        user = custom.template.format(context=render_context(job.context), persona=job.persona.describe())
        turns = [Message(role="user", content=user)]
        completion = json.dumps(output, ensure_ascii=False)
    else:
        user = f"Context:\n{render_context(job.context)}\n\nQuestion: {output['question']}"
        turns = [Message(role="user", content=user)]
        completion = output["answer"]
    meta = SampleMetadata(
        persona=job.persona.id,
        source_ids=job.source_ids,
        extra={"job": job.index, "cited": output.get("sources", [])},
        **metadata,
    )
    return Sample(
        system_prompt=system_prompt,
        prompt=turns,
        completion=completion,
        task_type=job.task,
        metadata=meta,
    )
