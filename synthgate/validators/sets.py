"""Set-level checks over a whole dataset: duplicates, shared system prompts, template collapse,
refusal share and diversity (`SetChecker.stats`: distinct ratios, most repeated openings, task
type and persona distributions, reported whether or not a threshold fires).

Streaming with bounded state: `observe` keeps a few 64-bit keys and counters per record. Texts
are normalized (lower case, ASCII punctuation dropped, whitespace collapsed) before comparing.

Near duplicates (rapidfuzz `fuzz.ratio` >= threshold) are blocked with MinHash LSH (see
sets_minhash), so a record meets at most a few earlier candidates and the whole check stays
near-linear. Candidates are confirmed with rapidfuzz against the normalized text.
A one-pass stream cannot know which earlier texts a later record will need, so texts are kept for
the most recent records only (`near_duplicate_cache_mb`); an older candidate is accepted without
rapidfuzz only when most bands agree (J ~ 0.8 or more), and its verdict says so.

The set-level rules over the finished counts live in sets_findings, `is_refusal` in refusal.
"""

from __future__ import annotations

import re
import string
from array import array
from collections import Counter, deque

import numpy as np
from rapidfuzz import fuzz

from synthgate.schemas.chain_config import SetConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.tool_calls import OPEN as TOOL_CALL_OPEN
from synthgate.schemas.verdict import SetFinding, Span, Verdict
from synthgate.validators.codes import verdict
from synthgate.validators.refusal import is_refusal
from synthgate.validators.sets_findings import (
    _label,
    duplicate_share,
    low_diversity,
    refusal_share,
    shared_system_prompt,
    template_collapse,
)
from synthgate.validators.sets_minhash import (
    _BANDS,
    _EMPTY,
    _K1,
    _ROW_MULT,
    _ROWS,
    _KeyIndex,
    _mix,
    _signatures,
)

NAME = "sets"

_BATCH = 2048
_MAX_CANDIDATES = 4  # earlier records confirmed per field, most shared bands first
_STRONG_BANDS = 11  # > half the bands agree: J ~ 0.8+, accepted when the earlier text is gone
_NCOLS = 3 + 2 * _BANDS  # record, prompt, completion exact keys; prompt bands; completion bands
_TOP_OPENINGS = 5
_TOP_LABELS = 20  # task types / personas listed in stats; the rest are counted as distinct only
_MAX_LABELS = 10_000  # distinct labels tracked; later new ones only count toward "other"
_LABEL_CHARS = 80

_DELETE = string.punctuation.encode()
_SPACES = bytes.maketrans(b"\t\n\r\x0b\x0c", b"     ")
_RUNS = re.compile(rb" {2,}")
_SALTS = _mix(np.arange(101, 101 + _NCOLS, dtype=np.uint64) * _K1)


class SetChecker:
    """Observes records one by one, then reports per-record duplicate verdicts and set findings."""

    def __init__(self, config: SetConfig = SetConfig()) -> None:
        self.config = config
        self._n = 0
        self._indexes = array("q")  # position -> caller's record index (gaps allowed)
        self._keys = _KeyIndex()
        self._cache: dict[int, tuple[bytes, bytes]] = {}
        self._cache_order: deque[int] = deque()
        self._cache_bytes = 0
        self._batch: list[tuple[int, int, int, int, int]] = []  # exact keys, prompt/completion length
        self._b_texts: tuple[list[bytes], list[bytes]] = ([], [])
        self._verdicts: dict[int, list[Verdict]] = {}
        self._dup_codes: Counter[str] = Counter()
        self._dups = {"prompt": 0, "completion": 0}
        self._nonempty = {"prompt": 0, "completion": 0}
        self._groups: Counter[str | None] = Counter()
        self._refusals: Counter[str | None] = Counter()
        self._opened: Counter[str | None] = Counter()
        self._openings: Counter[tuple[str | None, int]] = Counter()
        self._opening_text: dict[tuple[str | None, int], str] = {}
        self._systems: Counter[int] = Counter()
        self._system_head: dict[int, str] = {}
        self._all_openings: Counter[int] = Counter()  # across task types, for stats()
        self._all_opening_text: dict[int, str] = {}
        self._personas: Counter[str] = Counter()
        self._personas_other = 0

    def observe(self, index: int, sample: Sample) -> None:
        """Record one sample; call once per record in input order."""
        pos = self._n
        self._n += 1
        self._indexes.append(index)
        prompt = _prompt_text(sample)
        np_, nc = _normalize(prompt), _normalize(sample.completion)
        system = sample.system_prompt or ""
        # Python's hash is salted per process, but keys are only compared for equality, so
        # results do not depend on it; collisions at 64 bits are negligible.
        hs, hp, hc = hash(system), hash(np_), hash(nc)
        self._batch.append((hash((hs, hp, hc)), hp, hc, len(prompt), len(sample.completion)))
        self._b_texts[0].append(np_)
        self._b_texts[1].append(nc)
        self._cache[pos] = (np_, nc)
        self._cache_order.append(pos)
        self._cache_bytes += len(np_) + len(nc)
        self._nonempty["prompt"] += bool(np_)
        self._nonempty["completion"] += bool(nc)

        task = sample.task_type
        self._groups[task] += 1
        # A completion that opens with a tool call opens with the tool's name, not with words the
        # teacher chose; many calls to one tool are not a collapsed template.
        if nc and not sample.completion.startswith(TOOL_CALL_OPEN):
            opening = b" ".join(nc.split(b" ", self.config.opening_words)[: self.config.opening_words])
            key = (task, hash(opening))
            self._opened[task] += 1
            self._openings[key] += 1
            if self._openings[key] == 2:  # only repeated openings can collapse; keep their text
                self._opening_text[key] = opening.decode("utf-8", "replace")
            self._all_openings[key[1]] += 1
            if self._all_openings[key[1]] == 2:
                self._all_opening_text[key[1]] = opening.decode("utf-8", "replace")
        persona = sample.metadata.persona
        if persona is not None:
            label = persona[:_LABEL_CHARS]
            if label in self._personas or len(self._personas) < _MAX_LABELS:
                self._personas[label] += 1
            else:
                self._personas_other += 1
        if is_refusal(sample.completion):
            self._refusals[task] += 1
        if system:
            self._systems[hs] += 1
            if self._systems[hs] == 2:
                self._system_head[hs] = system[:80]
        if len(self._batch) >= _BATCH:
            self._flush()

    def finish(self) -> tuple[dict[int, list[Verdict]], list[SetFinding]]:
        """Per-record verdicts (record index -> the later copies' dup verdicts) and set findings."""
        self._flush()
        findings = [
            *duplicate_share(self._verdicts, self._dup_codes, self._n, self.config),
            *shared_system_prompt(self._systems, self._system_head, self._n, self.config),
            *template_collapse(self._openings, self._opened, self._opening_text, self.config),
            *refusal_share(self._groups, self._refusals, self._n, self.config),
            *low_diversity(self.stats(), self.config),
        ]
        return {i: list(vs) for i, vs in self._verdicts.items()}, findings

    def stats(self) -> dict:
        """Diversity of the set, always reported: distinct prompt/completion counts and ratios
        (normalized exact matches), the most repeated completion openings, and the task type and
        persona distributions when records carry them.

        >>> from synthgate.schemas.sample import Message
        >>> c = SetChecker()
        >>> for i in range(4):
        ...     c.observe(i, Sample(prompt=[Message(role="user", content=f"Q{i}?")], completion="Yes."))
        >>> (c.stats()["distinct_completions"], c.stats()["top_openings"])
        (1, [{'opening': 'yes', 'count': 4, 'share': 1.0}])
        """
        self._flush()
        n = self._n
        distinct = {f: self._nonempty[f] - self._dups[f] for f in ("prompt", "completion")}
        out: dict = {
            "records": n,
            "distinct_prompts": distinct["prompt"],
            "distinct_completions": distinct["completion"],
            "distinct_prompt_ratio": distinct["prompt"] / n if n else 0.0,
            "distinct_completion_ratio": distinct["completion"] / n if n else 0.0,
            "opening_words": self.config.opening_words,
            "top_openings": [
                {"opening": self._all_opening_text[key], "count": count, "share": count / n}
                for key, count in self._all_openings.most_common(_TOP_OPENINGS)
                if count >= 2
            ],
        }
        if any(t is not None for t in self._groups):
            out["task_types"] = _distribution(Counter({_label(t): c for t, c in self._groups.items()}), n, 0)
        if self._personas:
            out["personas"] = _distribution(self._personas, n, self._personas_other)
        return out

    def _flush(self) -> None:
        m = len(self._batch)
        if m == 0:
            return
        pos = np.arange(self._n - m, self._n, dtype=np.int64)
        info = np.array(self._batch, dtype=np.int64)
        sig = _signatures(self._b_texts[0] + self._b_texts[1])
        bands = sig[:, : _ROWS * _BANDS].reshape(2 * m, _BANDS, _ROWS)
        band_keys = (bands * _ROW_MULT).sum(axis=2, dtype=np.uint64)
        band_ok = (bands != _EMPTY).any(axis=2)
        exact_ok = np.ones((m, 3), bool)
        exact_ok[:, 1], exact_ok[:, 2] = info[:, 3] > 0, info[:, 4] > 0
        keys = np.concatenate((info[:, :3].view(np.uint64), band_keys[:m], band_keys[m:]), axis=1)
        valid = np.concatenate((exact_ok, band_ok[:m], band_ok[m:]), axis=1)
        # Salting per column keeps a prompt key from ever matching a completion or band key.
        keys = _mix(keys ^ _SALTS)

        flat_pos = np.broadcast_to(pos[:, None], keys.shape)[valid]
        uniq, first, inverse = np.unique(keys[valid], return_index=True, return_inverse=True)
        earlier = self._keys.first(uniq)
        absent = earlier < 0
        self._keys.add(uniq[absent], flat_pos[first[absent]])  # uniq is sorted: a ready run
        heads = np.full(keys.shape, -1, np.int64)
        heads[valid] = np.where(absent, flat_pos[first], earlier)[inverse.ravel()]

        seen = (heads >= 0) & (heads < pos[:, None])
        self._dups["prompt"] += int(seen[:, 1].sum())
        self._dups["completion"] += int(seen[:, 2].sum())
        for row in np.flatnonzero(seen.any(axis=1)):
            self._judge(int(pos[row]), heads[row], int(info[row, 3]), int(info[row, 4]))

        self._batch.clear()
        self._b_texts[0].clear()
        self._b_texts[1].clear()
        budget = self.config.near_duplicate_cache_mb * 1_000_000
        while self._cache_bytes > budget and self._cache_order:
            a, b = self._cache.pop(self._cache_order.popleft())
            self._cache_bytes -= len(a) + len(b)

    def _judge(self, p: int, heads: np.ndarray, prompt_len: int, completion_len: int) -> None:
        found: list[Verdict] = []
        if 0 <= heads[0] < p:
            j = self._indexes[heads[0]]
            found.append(
                verdict(
                    NAME,
                    "dup.exact_record",
                    f"same system prompt, prompt and completion as record {j} (ignoring case, "
                    "punctuation and whitespace); keep one copy",
                    span=Span(start=0, end=completion_len),
                )
            )
        else:
            for fi, field, length in ((0, "prompt", prompt_len), (1, "completion", completion_len)):
                span = Span(start=0, end=length, field=field)
                head = heads[1 + fi]
                if 0 <= head < p:
                    j = self._indexes[head]
                    message = f"same {field} as record {j}"
                    found.append(verdict(NAME, f"dup.exact_{field}", message, span=span))
                    continue
                near = self._near(p, fi, heads[3 + fi * _BANDS : 3 + (fi + 1) * _BANDS])
                if near is None:
                    continue
                j, score = self._indexes[near[0]], near[1]
                how = (
                    f"{score:.1f}% similar (rapidfuzz ratio)"
                    if score is not None
                    else "nearly identical by MinHash (its text was no longer held to confirm)"
                )
                found.append(
                    verdict(NAME, f"dup.near_{field}", f"{field} {how} to record {j}", span=span, score=score)
                )
        if found:
            self._verdicts[self._indexes[p]] = found
            self._dup_codes.update(v.code for v in found)

    def _near(self, p: int, fi: int, band_heads: np.ndarray) -> tuple[int, float | None] | None:
        candidates = Counter(int(h) for h in band_heads if 0 <= h < p)
        if not candidates:
            return None
        mine = self._cache[p][fi]
        best: tuple[int, float | None] | None = None
        ranked = sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_CANDIDATES]
        for j, shared_bands in ranked:
            held = self._cache.get(j)
            if held is None:
                if best is None and shared_bands >= _STRONG_BANDS:
                    best = (j, None)
                continue
            score = fuzz.ratio(mine, held[fi], score_cutoff=self.config.near_duplicate_threshold)
            if score and (best is None or best[1] is None or score > best[1]):
                best = (j, score)
        return best


def _prompt_text(sample: Sample) -> str:
    if len(sample.prompt) == 1:
        return sample.prompt[0].content
    return "\n".join(f"{m.role}: {m.content}" for m in sample.prompt)


def _normalize(text: str) -> bytes:
    # bytes.translate runs in C; the word regex of text.normalize costs ~10x more per record.
    out = text.lower().encode().translate(_SPACES, _DELETE)
    if b"  " in out or out[:1] == b" " or out[-1:] == b" ":
        out = _RUNS.sub(b" ", out).strip(b" ")
    return out


def _distribution(counts: Counter[str], records: int, other: int) -> dict:
    """The most common labels with counts and shares, and how many distinct labels there were."""
    top = counts.most_common(_TOP_LABELS)
    rest = sum(counts.values()) - sum(c for _, c in top) + other
    out: dict = {
        "distinct": len(counts) + (1 if other else 0),
        "top": [{"label": label, "count": c, "share": c / records} for label, c in top],
    }
    if rest:
        out["other"] = rest
    return out
