"""Set-level checks over a whole dataset: duplicates, shared system prompts, template collapse,
refusal share and diversity (`SetChecker.stats`: distinct ratios, most repeated openings, task
type and persona distributions, reported whether or not a threshold fires).

Streaming with bounded state: `observe` keeps a few 64-bit keys and counters per record. Texts
are normalized (lower case, ASCII punctuation dropped, whitespace collapsed) before comparing.

Near duplicates (rapidfuzz `fuzz.ratio` >= threshold) are blocked with MinHash LSH. Each text
is shingled into 16-byte windows starting at each word (about 2-3 words: a one-word edit changes
only ~3 shingles) and sketched with one-permutation MinHash (64 bins, the min hash per bin),
hashed in numpy over a whole batch at once. Bands of 3 bins x 21 bands make two texts candidates
when any band matches: P = 1 - (1 - J^3)^21 is 0.94 at Jaccard J = 0.5, 0.994 at J = 0.6 and
2e-5 at the J ~ 0.01 of unrelated texts (measured: 99.9% of ratio >= 92 pairs made with up to 25
scattered word edits became candidates; 100k synthetic records cost 0.14 rapidfuzz calls each).
Each band key maps to the first record that had it (sorted numpy runs, merged LSM-style: 12 bytes
per key, vectorised lookups), so a record meets at most a few earlier candidates and the whole
check stays near-linear. Candidates are confirmed with rapidfuzz against the normalized text.
A one-pass stream cannot know which earlier texts a later record will need, so texts are kept for
the most recent records only (`near_duplicate_cache_mb`); an older candidate is accepted without
rapidfuzz only when most bands agree (J ~ 0.8 or more), and its verdict says so.
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
from synthgate.schemas.verdict import SetFinding, Span, Verdict
from synthgate.validators.codes import get as get_code
from synthgate.validators.codes import verdict

NAME = "sets"

# (gates, pattern) on the lower-cased opening: a pattern runs only when one of its gate strings
# occurs (`in` is ~100x cheaper than a regex scan), and each pattern starts with a literal or a
# rare character so the regex engine skips ahead instead of trying every alternative everywhere.
_NOT = r"(?: no|n['’])t "
_SOURCE_WORDS = ("context", "passage", "document", "source", "excerpt", "text")
_REFUSALS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (
        ("not", "n't", "n’t"),
        re.compile(
            _NOT
            + r"(?:(?:contain|provide|include|have|give)(?: (?:enough|sufficient|any|the|this|that|such))?"
            r" (?:information|details?|data)|(?:enough|sufficient) (?:information|context|details)"
            r"|(?:mentioned|specified|provided|stated|included|covered|addressed|discussed|described|given)"
            r" (?:in|by|within) the)"
        ),
    ),
    (_SOURCE_WORDS, re.compile(_NOT + r"(?:mention|specify|say|state|cover|address|discuss)")),
    (("insufficient",), re.compile(r"insufficient (?:information|context)")),
    (
        ("i can", "unable", "i am not", "i'm not", "i’m not"),
        re.compile(
            r"\bi (?:cannot|can['’]t|can not|am unable to|['’]m unable to|am not able to|['’]m not able to)"
            r" (?:answer|provide|determine|find|help|say|tell|confirm)"
        ),
    ),
    (("sorry",), re.compile(r"sorry,? but")),
    (("there",), re.compile(r"there (?:is|['’]s) no (?:information|mention|data|details)")),
    (
        ("know", "info"),
        re.compile(r"\bi (?:do not|don['’]t) (?:know|have (?:enough |sufficient |any )?info)"),
    ),
)
# A refusal declines in its opening; a caveat late in a full answer is not a refusal.
_REFUSAL_WINDOW = 300

_BATCH = 2048
_BINS, _ROWS, _BANDS = 64, 3, 21
_MAX_CANDIDATES = 4  # earlier records confirmed per field, most shared bands first
_STRONG_BANDS = 11  # > half the bands agree: J ~ 0.8+, accepted when the earlier text is gone
_EMPTY = np.uint64(2**64 - 1)
_LOW58 = np.uint64((1 << 58) - 1)
_K1, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_PAD = b"\n" * 16  # keeps each text's 16-byte windows from reading into the next text
_NCOLS = 3 + 2 * _BANDS  # record, prompt, completion exact keys; prompt bands; completion bands
_TOP_OPENINGS = 5
_TOP_LABELS = 20  # task types / personas listed in stats; the rest are counted as distinct only
_MAX_LABELS = 10_000  # distinct labels tracked; later new ones only count toward "other"
_LABEL_CHARS = 80

_DELETE = string.punctuation.encode()
_SPACES = bytes.maketrans(b"\t\n\r\x0b\x0c", b"     ")
_RUNS = re.compile(rb" {2,}")


def is_refusal(text: str) -> bool:
    """True when the text opens by declining to answer.

    >>> is_refusal("The provided context does not contain enough information to answer.")
    True
    >>> is_refusal("I'm sorry, but I can't help with that.")
    True
    >>> is_refusal("The warranty covers two years; shipping is not included.")
    False
    """
    low = text[:_REFUSAL_WINDOW].lower()
    for gates, pattern in _REFUSALS:
        for gate in gates:
            if gate in low:
                if pattern.search(low):
                    return True
                break
    return False


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
        if nc:
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
            *self._duplicate_share(),
            *self._shared_system_prompt(),
            *self._template_collapse(),
            *self._refusal_share(),
            *self._low_diversity(),
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

    def _finding(self, code: str, message: str, count: int, share: float, details: dict) -> SetFinding:
        severity = get_code(code).severity
        return SetFinding(
            code=code, severity=severity, message=message, count=count, share=share, details=details
        )

    def _duplicate_share(self) -> list[SetFinding]:
        # Near-duplicate prompts alone don't count: RAG sets legitimately ask several questions
        # about one chunk. What teaches a model to repeat itself is duplicated completions/records.
        count = sum(1 for vs in self._verdicts.values() if any(v.code != "dup.near_prompt" for v in vs))
        if not self._n or count / self._n <= self.config.max_near_duplicate_share:
            return []
        share = count / self._n
        return [
            self._finding(
                "set.near_duplicate_share",
                f"{count} of {self._n} records ({share:.1%}) duplicate an earlier record or repeat (nearly) "
                f"the same completion (limit {self.config.max_near_duplicate_share:.1%}); "
                "deduplicate before training",
                count,
                share,
                {"by_code": dict(sorted(self._dup_codes.items()))},
            )
        ]

    def _shared_system_prompt(self) -> list[SetFinding]:
        if not self._systems:
            return []
        key, count = self._systems.most_common(1)[0]
        share = count / self._n
        if count < 2 or share < self.config.shared_system_prompt_share:
            return []
        return [
            self._finding(
                "set.shared_system_prompt",
                f"{count} of {self._n} records ({share:.0%}) carry the same system prompt: full-sequence "
                "training would teach the model this prompt; completion-only loss is required",
                count,
                share,
                {"count": count, "share": share, "prompt_head": self._system_head[key]},
            )
        ]

    def _template_collapse(self) -> list[SetFinding]:
        top: dict[str | None, tuple[int, tuple[str | None, int]]] = {}
        for key, count in self._openings.items():
            if count > top.get(key[0], (0, key))[0]:
                top[key[0]] = (count, key)
        out = []
        for task, (count, key) in top.items():
            size = self._opened[task]
            if size < self.config.template_collapse_min_records or count < 2:
                continue
            share = count / size
            if share < self.config.template_collapse_share:
                continue
            where = f"of task type {task!r}" if task is not None else "(records without a task type)"
            opening = self._opening_text[key]
            out.append(
                self._finding(
                    "set.template_collapse",
                    f"{count} of {size} completions {where} ({share:.0%}) open with {opening!r}: "
                    "generation collapsed onto one template; vary the instructions or the examples",
                    count,
                    share,
                    {"task_type": task, "opening": opening, "count": count, "records": size},
                )
            )
        return out

    def _refusal_share(self) -> list[SetFinding]:
        if not self.config.refusal_share or not self._n:
            return []
        records = {_label(t): n for t, n in self._groups.items()}
        refusals = {_label(t): self._refusals[t] for t in self._groups}
        records["*"], refusals["*"] = self._n, sum(self._refusals.values())
        shares = {t: refusals[t] / records[t] for t in records}
        details = {"shares": shares, "refusals": refusals, "records": records}
        out = []
        for task, (low, high) in self.config.refusal_share.items():
            if task not in records or low <= shares[task] <= high:
                continue
            which = "all records" if task == "*" else f"task type {task!r}"
            out.append(
                self._finding(
                    "set.refusal_share",
                    f"{refusals[task]} of {records[task]} completions of {which} are refusals "
                    f"({shares[task]:.1%}); expected {low:.0%} to {high:.0%}",
                    refusals[task],
                    shares[task],
                    {"task_type": task, "expected": [low, high], **details},
                )
            )
        return out

    def _low_diversity(self) -> list[SetFinding]:
        if not self._n:
            return []
        stats = self.stats()
        distinct, ratio = stats["distinct_completions"], stats["distinct_completion_ratio"]
        if ratio >= self.config.low_diversity_ratio:
            return []
        keys = (
            "distinct_completions",
            "distinct_prompts",
            "distinct_completion_ratio",
            "distinct_prompt_ratio",
        )
        return [
            self._finding(
                "set.low_diversity",
                f"only {distinct} distinct completions in {self._n} records "
                f"({ratio:.0%}, limit {self.config.low_diversity_ratio:.0%})",
                distinct,
                ratio,
                {k: stats[k] for k in keys},
            )
        ]


class _KeyIndex:
    """uint64 key -> first position, as sorted runs merged when a run outgrows the one before."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def first(self, keys: np.ndarray) -> np.ndarray:
        """Position stored for each key, -1 where absent (a key lives in exactly one run)."""
        out = np.full(len(keys), -1, np.int64)
        for run_keys, run_pos in self._runs:
            at = np.minimum(np.searchsorted(run_keys, keys), len(run_keys) - 1)
            hit = run_keys[at] == keys
            out[hit] = run_pos[at[hit]]
        return out

    def add(self, keys: np.ndarray, positions: np.ndarray) -> None:
        """Add sorted keys that are not in the index yet."""
        if not len(keys):
            return
        self._runs.append((keys, positions.astype(np.int32)))
        while len(self._runs) > 1 and len(self._runs[-2][0]) < 2 * len(self._runs[-1][0]):
            newer = self._runs.pop()
            self._runs[-1] = _merge(self._runs[-1], newer)


def _merge(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted runs with disjoint keys in O(n) extra memory (no argsort of the union)."""
    (ka, pa), (kb, pb) = a, b
    at_b = np.searchsorted(ka, kb) + np.arange(len(kb))
    from_b = np.zeros(len(ka) + len(kb), bool)
    from_b[at_b] = True
    keys = np.empty(len(from_b), np.uint64)
    positions = np.empty(len(from_b), np.int32)
    keys[at_b], positions[at_b] = kb, pb
    keys[~from_b], positions[~from_b] = ka, pa
    return keys, positions


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


def _label(task: str | None) -> str:
    return task if task is not None else "(none)"


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


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads polynomial hashes over all 64 bits (uint64 wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


_ROW_MULT = _mix(np.arange(1, _ROWS + 1, dtype=np.uint64) * _K1)
_SALTS = _mix(np.arange(101, 101 + _NCOLS, dtype=np.uint64) * _K1)


def _signatures(texts: list[bytes]) -> np.ndarray:
    """(len(texts), 64) one-permutation MinHash of word-anchored 16-byte windows; _EMPTY = no shingle."""
    count = len(texts)
    blob = _PAD.join(texts) + _PAD
    buf = np.frombuffer(blob, np.uint8)
    # Every 8-byte window as a uint64, without copying: a byte-strided view of the buffer.
    windows = np.ndarray((len(blob) - 7,), dtype="<u8", buffer=blob, strides=(1,))
    lengths = np.fromiter(map(len, texts), np.int64, count)
    text_start = np.zeros(count, np.int64)
    np.cumsum(lengths[:-1] + len(_PAD), out=text_start[1:])
    nonempty = np.flatnonzero(lengths)
    # Normalized texts are single-spaced: a word starts at each text start and after each space.
    starts = np.concatenate((np.flatnonzero(buf == 32) + 1, text_start[nonempty]))
    spaces = np.fromiter((t.count(b" ") for t in texts), np.int64, count)
    owner = np.concatenate((np.repeat(np.arange(count), spaces), nonempty))
    shingle = _mix(windows[starts] * _K1 + windows[starts + 8])
    sig = np.full(count * _BINS, _EMPTY)
    np.minimum.at(sig, owner * _BINS + (shingle >> np.uint64(58)).astype(np.int64), shingle & _LOW58)
    return sig.reshape(count, _BINS)
