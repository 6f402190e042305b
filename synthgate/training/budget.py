"""`max_length auto`: the smallest token budget that holds every record of an export whole.

Each record is measured as the audit's length check measures it (`LengthValidator.token_counts`:
prompt = system + turns + generation prompt, completion = the answer plus its end-of-turn
skeleton, both through the tokenizer's chat template), with the tokenizer of the model that will
train; no weights are loaded. The budget is the longest record, rounded UP to a multiple of 64:

- completions are never cut, so the budget can only be at least the longest record;
- rounding costs nothing: the trainer pads each batch to its own longest row, so max_length is a
  cap, not a shape; and it leaves a few tokens of slack for the one token by which TRL's joint
  tokenization of prompt + completion can differ from the audit's split count at the boundary;
  a multiple of 64 also keeps the cap the same when a re-export adds a record a few tokens longer.

`LengthBudget.shortfalls` says what smaller budgets would cost: how many records would need their
prompt truncated (the audit's middle cut of the last user turn) and how many would not fit at all
because the completion alone is over (those would be dropped by a re-audit, never cut).

>>> budget = choose_max_length([(400, 100), (300, 150), (100, 40), (60, 300)], skeleton_prompt=10)
>>> budget.max_length, budget.longest
(512, 500)
>>> [(s.max_length, s.prompt_truncated, s.completion_over) for s in budget.shortfalls]
[(448, 2, 0), (384, 2, 0), (256, 2, 1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthgate.schemas.adapters import to_sample
from synthgate.schemas.chain_config import LengthConfig
from synthgate.schemas.sample import Sample

MULTIPLE = 64


@dataclass(frozen=True)
class Shortfall:
    """What a smaller budget would cost: records needing a prompt cut, records that cannot fit."""

    max_length: int
    prompt_truncated: int
    completion_over: int


@dataclass(frozen=True)
class LengthBudget:
    """The chosen max_length, the longest record (tokens), and what smaller budgets would cost."""

    max_length: int
    longest: int
    records: int
    shortfalls: tuple[Shortfall, ...]

    def describe(self) -> list[str]:
        """Lines for humans: the choice, then one line per smaller budget."""
        lines = [
            f"max_length auto: {self.max_length} (longest of {self.records} records is {self.longest} tokens "
            f"through the chat template, rounded up to a multiple of {MULTIPLE})"
        ]
        for s in self.shortfalls:
            over = f", {s.completion_over} whose completion alone does not fit" if s.completion_over else ""
            lines.append(
                f"  at max_length {s.max_length}: {s.prompt_truncated} record(s) would need prompt "
                f"truncation{over}"
            )
        return lines


def round_up(tokens: int, multiple: int = MULTIPLE) -> int:
    """`tokens` rounded up to a multiple of `multiple` (at least one multiple).

    >>> round_up(1), round_up(64), round_up(65)
    (64, 64, 128)
    """
    return max(multiple, -(-tokens // multiple) * multiple)


def smaller_budgets(max_length: int) -> list[int]:
    """A few smaller budgets worth comparing: one and two steps of 64 down, and half.

    >>> smaller_budgets(512), smaller_budgets(128), smaller_budgets(64)
    ([448, 384, 256], [64], [])
    """
    candidates = {max_length - MULTIPLE, max_length - 2 * MULTIPLE, round_up(max_length // 2)}
    return sorted((c for c in candidates if 0 < c < max_length), reverse=True)


def choose_max_length(counts: Sequence[tuple[int, int]], skeleton_prompt: int) -> LengthBudget:
    """The budget for records of (prompt tokens, completion tokens); `skeleton_prompt` is the
    template's cost of an empty prompt (what a completion needs beside it at the least)."""
    if not counts:
        raise ValueError("no records to measure")
    longest = max(p + c for p, c in counts)
    chosen = round_up(longest)
    shortfalls = []
    for length in smaller_budgets(chosen):
        over = sum(1 for _, c in counts if c + skeleton_prompt > length)
        cut = sum(1 for p, c in counts if p + c > length and c + skeleton_prompt <= length)
        shortfalls.append(Shortfall(length, cut, over))
    return LengthBudget(chosen, longest, len(counts), tuple(shortfalls))


def measure_records(rows: Sequence[dict[str, Any]], tokenizer: Any) -> LengthBudget:
    """The budget for an export's prompt/completion records, measured with `tokenizer`."""
    from synthgate.validators.length import LengthValidator

    # A config max_length only matters for judging; token_counts measures whatever the length.
    validator = LengthValidator(LengthConfig(), tokenizer=tokenizer)
    samples = [to_sample(row, "prompt-completion") for row in rows]
    empty = Sample(prompt=[{"role": "user", "content": ""}], completion="")
    skeleton_prompt, _ = validator.token_counts([empty])[0]
    return choose_max_length(validator.token_counts(samples), skeleton_prompt)
