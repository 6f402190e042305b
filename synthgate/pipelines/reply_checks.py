"""Task-level checks of a teacher's parsed reply, before it becomes a sample.

The validator chain judges a sample as training data; these checks judge whether the teacher did
the job it was given, which only the pipeline knows:
- `gen.instruction_echo`: the question or answer repeats the generation instructions instead of
  using them (a small teacher asked for "plain prose" answers "plain prose"), or names the passage
  marker the student never sees ("the topic passage");
- `gen.refusal_missing`: a refusal job whose answer does not decline (the context was chosen not to
  answer it, so any answer is made up).
"""

from __future__ import annotations

import re
from typing import Any

from synthgate.pipelines.tasks import QA_TASKS, Job, TeacherPrompt
from synthgate.validators.codes import registered
from synthgate.validators.normalize import token_text
from synthgate.validators.refusal import is_refusal

INSTRUCTION_ECHO = registered("gen.instruction_echo")
REFUSAL_MISSING = registered("gen.refusal_missing")

# Labels the teacher prompt uses for passages; a sample that names them talks about the prompt.
_MARKERS = re.compile(r"\b(hidden|topic) passage\b", re.I)


class ReplyRejected(ValueError):
    """A reply that parsed and met its schema but did not do the task; `code` says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_reply(job: Job, prompt: TeacherPrompt, output: dict[str, Any]) -> None:
    """Raise ReplyRejected when a question/answer reply echoes its instructions or fails to refuse."""
    if job.task not in QA_TASKS:
        return
    question, answer = str(output.get("question", "")), str(output.get("answer", ""))
    for field, text in (("question", question), ("answer", answer)):
        if m := _MARKERS.search(text):
            raise ReplyRejected(INSTRUCTION_ECHO, f"the {field} names the prompt's {m.group(0)!r}")
    passages = token_text(" ".join(c.text for c in [*job.context, *([job.hidden] if job.hidden else [])]))
    instructions = token_text(" ".join(m["content"] for m in prompt.messages))
    for field, text in (("question", question), ("answer", answer)):
        words = token_text(text)
        # Copied from the instructions, not from the passages: "plain prose", "one question".
        if words and f" {words} " in f" {instructions} " and f" {words} " not in f" {passages} ":
            raise ReplyRejected(
                INSTRUCTION_ECHO, f"the {field} {text.strip()[:60]!r} repeats the instructions"
            )
    if job.task == "refusal" and not is_refusal(answer):
        raise ReplyRejected(
            REFUSAL_MISSING, "a refusal job's answer does not say the context is insufficient"
        )
