"""Eval inputs: the held-out items of a JSONL eval file, few-shot examples, and the conversation
each arm sends to the model.

Shots are picked by a hash, not at random, so an eval rerun on the same data asks the model
exactly the same questions with exactly the same examples.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthgate.errors import InputError
from synthgate.store import Store

DEFAULT_K = 3


class EvalQuestion(BaseModel):
    """One held-out question; `context` and `system_prompt` are optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, description="Optional item id, copied into the results.")
    question: str = Field(min_length=1, description="The user's question.")
    context: str | None = Field(default=None, description="Retrieved passage(s) the answer must use.")
    expected_keywords: list[str] = Field(
        default_factory=list, description="Words or phrases a good answer contains (case-insensitive)."
    )
    task_type: str = Field(default="grounded", description="grounded, synthesis, refusal, ...")
    system_prompt: str | None = Field(default=None, description="System prompt the answer is given under.")

    def user_message(self) -> str:
        """The user turn, laid out like synthgate's RAG training data."""
        if self.context:
            return f"Context:\n{self.context}\n\nQuestion: {self.question}"
        return self.question


@dataclass(frozen=True)
class Shot:
    """One few-shot example: a prior user turn and the assistant's answer."""

    user: str
    assistant: str


def load_eval_questions(path: str | os.PathLike[str]) -> list[EvalQuestion]:
    """The items of a JSONL eval file; InputError naming the line and field of a bad one."""
    file = Path(path)
    if not file.is_file():
        raise InputError("eval file not found", path=str(file), hint="Pass a JSONL file of eval items.")
    items = []
    with file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                items.append(EvalQuestion.model_validate_json(line))
            except ValidationError as err:
                first = err.errors()[0]
                raise InputError(
                    first["msg"],
                    path=str(file),
                    record=number,
                    field=".".join(map(str, first["loc"])) or None,
                    hint="Each line needs question, expected_keywords and task_type; context and "
                    "system_prompt are optional.",
                ) from None
    if not items:
        raise InputError("holds no eval items", path=str(file))
    return items


def pick_shots(candidates: Iterable[Shot], k: int = DEFAULT_K, seed: int = 0) -> list[Shot]:
    """k examples ranked by a hash of (seed, text): the same data always gives the same shots.

    >>> pool = [Shot(f"q{i}", f"a{i}") for i in range(10)]
    >>> pick_shots(pool, 2) == pick_shots(reversed(pool), 2)
    True
    """

    def rank(shot: Shot) -> str:
        return hashlib.sha256(f"{seed}\0{shot.user}\0{shot.assistant}".encode()).hexdigest()

    return sorted(set(candidates), key=rank)[:k]


def shots_from_export(export_dir: str | os.PathLike[str], k: int = DEFAULT_K, seed: int = 0) -> list[Shot]:
    """k few-shot examples from a verified export's train split."""
    from synthgate.training.manifest import verify_export
    from synthgate.training.sft import read_split, split_files

    folder = Path(export_dir)
    train_file, _ = split_files(verify_export(folder), folder)
    shots = []
    for row in read_split(folder / train_file):
        users = [m["content"] for m in row["prompt"] if m.get("role") == "user"]
        if users:
            shots.append(Shot(users[-1], row["completion"][-1]["content"]))
    return pick_shots(shots, k, seed)


def shots_from_version(store: Store, version_id: str, k: int = DEFAULT_K, seed: int = 0) -> list[Shot]:
    """k few-shot examples from a stored version's members."""
    shots = []
    for sample in store.versions.iter_samples(version_id):
        users = [m.content for m in sample.prompt if m.role == "user"]
        if users:
            shots.append(Shot(users[-1], sample.completion))
    return pick_shots(shots, k, seed)


def build_messages(item: EvalQuestion, shots: Sequence[Shot] = ()) -> list[dict[str, str]]:
    """The conversation for one item: its system prompt, the shots as prior turns, its question."""
    messages = [{"role": "system", "content": item.system_prompt}] if item.system_prompt else []
    for shot in shots:
        messages += [{"role": "user", "content": shot.user}, {"role": "assistant", "content": shot.assistant}]
    messages.append({"role": "user", "content": item.user_message()})
    return messages
