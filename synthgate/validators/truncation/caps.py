"""Set level: completions whose token count sits exactly at a generation cap many records share.

A generator cut at `max_tokens` leaves its completions exactly that long. One completion at 512
tokens is chance; five or more at exactly 512 (or at 256, 1024, 2048, half the training
max_length, or at the set's largest count) are a cap, when they are also a spike: at least
`cap_spike_factor` times the mean count of the 20 lengths each side (in a large set every length
is shared by many records by chance). Each such record gets
`length.truncated_completion` (no span: the whole completion is suspect).

Counts are the record's `completion_tokens` metadata when the file has it (the teacher's own
count, where a cap is exact), else the length validator's count with the configured tokenizer:
set `length.tokenizer` to the teacher's tokenizer for caps to line up exactly.

Memory: 12 bytes per record (index and count).
"""

from __future__ import annotations

from array import array
from collections import Counter

from synthgate.schemas.chain_config import TruncationConfig
from synthgate.schemas.verdict import Verdict
from synthgate.validators.codes import verdict
from synthgate.validators.truncation import CODE, TruncationValidator

_NEIGHBOURS = 20  # lengths each side of a cap whose mean count a spike must exceed


class CapObserver:
    """Collects each record's completion token count, then flags the records at a shared cap."""

    def __init__(self, config: TruncationConfig | None = None, *, max_length: int | None = None) -> None:
        self.config = config or TruncationConfig()
        self._caps = set(self.config.round_caps) | ({max_length // 2} if max_length else set())
        self._indexes = array("q")
        self._tokens = array("l")

    def observe(self, index: int, completion_tokens: int | None) -> None:
        """Record one record's count; None (not measured) is skipped."""
        if completion_tokens is not None:
            self._indexes.append(index)
            self._tokens.append(completion_tokens)

    def _spike(self, counts: Counter[int], cap: int) -> bool:
        """Many records at exactly `cap`, far more than at the lengths around it: in a large set every
        length is shared by chance, so only a spike marks a cap."""
        cfg = self.config
        w = _NEIGHBOURS
        around = sum(counts[n] for n in range(cap - w, cap + w + 1) if n != cap) / (2 * w)
        return counts[cap] >= cfg.cap_min_records and counts[cap] >= cfg.cap_spike_factor * around

    def finish(self) -> list[tuple[int, Verdict]]:
        """(record index, verdict) for every record at a cap shared by `cap_min_records`+ records."""
        cfg = self.config
        counts = Counter(self._tokens)
        candidates = set(self._caps)
        if cfg.max_pileup and counts:
            candidates.add(max(counts))
        caps = {c for c in candidates if c >= cfg.cap_min_tokens and self._spike(counts, c)}
        if not caps:
            return []
        out = []
        for index, n in zip(self._indexes, self._tokens, strict=True):
            if n in caps:
                how = "the set's largest count" if n not in self._caps else "a round generation cap"
                msg = (
                    f"the completion is exactly {n} tokens, like {counts[n] - 1} other records: {how}, "
                    "so it was most likely cut by max_tokens; regenerate with a higher limit"
                )
                out.append((index, verdict(TruncationValidator.name, CODE, msg, score=float(counts[n]))))
        return out
