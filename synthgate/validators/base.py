"""The validator interface: a pure check of one sample, batched where that is faster; and which
texts of a sample a validator scans (`texts_to_check`), shared by the checks that scan more than the
completion."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import SpanField, Verdict


@dataclass(frozen=True)
class Result:
    """What a validator says about one sample: its findings and the (possibly repaired) sample.

    `tokens` is (prompt, completion) as the length check counted them through the chat template,
    before any repair of its own; None from every other validator. The audit stores them.
    """

    sample: Sample
    verdicts: list[Verdict] = field(default_factory=list)
    tokens: tuple[int, int] | None = None
    # Completion tokens (chat skeleton excluded) when a validator measured them (length does):
    # the set-level generation-cap check reads them, so the text is tokenized once.
    completion_tokens: int | None = None


class Validator(ABC):
    """Sample in, verdicts (and maybe a repaired sample) out. No I/O, no store, no globals.

    A validator returns every problem it finds, not just the first. It only ever returns
    `fixed` or `fail` verdicts; a sample with no verdicts passed it.
    """

    name: ClassVar[str]

    @abstractmethod
    def check(self, sample: Sample) -> Result: ...

    def check_batch(self, samples: Sequence[Sample]) -> list[Result]:
        """Check many samples; override when batching is faster (tokenizers)."""
        return [self.check(s) for s in samples]


@dataclass(frozen=True)
class CheckedText:
    """One text of a sample a validator scans: its span field, its content and where it is."""

    field: SpanField
    text: str
    where: str  # "the completion", "the prompt" (last user turn), "prompt turn 1 of 3 (user)", ...


def texts_to_check(
    sample: Sample,
    *,
    prompts: bool = True,
    roles: frozenset[str] = frozenset({"user"}),
    system: bool = False,
) -> list[CheckedText]:
    """The completion, then (when `prompts`) the prompt turns of `roles`, then the system prompt.

    The last user turn is "the prompt"; any other turn is named by its position, because a
    "prompt" span only says which characters, not which turn.
    """
    out = [CheckedText("completion", sample.completion, "the completion")]
    if prompts:
        turns = sample.prompt
        last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=-1)
        for i, m in enumerate(turns):
            if m.role in roles and m.content:
                where = "the prompt" if i == last_user else f"prompt turn {i + 1} of {len(turns)} ({m.role})"
                out.append(CheckedText("prompt", m.content, where))
        if system and sample.system_prompt:
            out.append(CheckedText("system_prompt", sample.system_prompt, "the system prompt"))
    return out
