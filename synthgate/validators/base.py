"""The validator interface: a pure check of one sample, batched where that is faster."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict


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
