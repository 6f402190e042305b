"""Set-level checks over a whole dataset: duplicates, shared system prompts, template collapse,
refusal share and diversity (`SetChecker.stats`: distinct ratios, most repeated openings, task
type and persona distributions, reported whether or not a threshold fires).

Streaming with bounded state: `observe` keeps a few 64-bit keys and counters per record. Texts
are normalized in `symbols` mode (normalize.py: case, whitespace and sentence punctuation ignored,
operators and symbols kept) before comparing.

A short completion (< 20 words: a closer, "7") shared by records whose prompts differ (ratio < 85)
is the same short answer to another question, not a duplicate (see `SetChecker._generic_answer`).

Prompts are judged on what they ask: two prompts close as wholes are `dup.near_prompt` only when
the question outside a labelled context passage is close too (RAG prompts sharing one passage
but asking other questions are not duplicates). Likewise, a line that other records' prompts carry
too (a tool description, an instructions preamble, a pasted passage without a label) is context,
not the request: when the pair shares a line seen in a third record, the lines they share are set
aside and the rest (one-line tasks, usually) must be close too (two prompts alone sharing a line,
before any third record carries it, are judged whole). Prompts that differ only in slot values
(numbers, or a swapped name or word of a fixed template) are not reported per record: they are
counted into one `set.templated_prompts` finding.

Memory (measured, docs/incoming/mem.md): per record the checker keeps two 8-byte positions and
the record's new MinHash/exact keys in `KeyIndex` (up to 46 keys x 12 bytes, ~0.5 KB for a distinct
record, nothing for an exact copy); the rest is bounded: the text cache (`near_duplicate_cache_mb`),
opening and system prompt counters (singletons pruned past _MAX_COUNTED keys), and duplicate
verdicts, which the caller drains with `take_verdicts` as they are found. Keys are stable 64-bit
hashes (blake2b), never Python's per-process salted `hash()`.

Near duplicates (rapidfuzz `fuzz.ratio` >= threshold) are blocked with MinHash LSH (see
sets.minhash), so a record meets at most a few earlier candidates and the whole check stays
near-linear. Candidates are confirmed with rapidfuzz against the normalized text.
A one-pass stream cannot know which earlier texts a later record will need, so texts are kept for
the most recent records only (`near_duplicate_cache_mb`); an older candidate is accepted without
rapidfuzz only when most bands agree (J ~ 0.8 or more), and its verdict says so.

The set-level rules over the finished counts live in sets.findings, `is_refusal` in refusal.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter, deque
from difflib import SequenceMatcher
from hashlib import blake2b

import numpy as np
from rapidfuzz import fuzz

from synthgate.schemas.chain_config import SetConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.tool_calls import OPEN as TOOL_CALL_OPEN
from synthgate.schemas.verdict import SetFinding, Span, Verdict
from synthgate.validators.codes import verdict
from synthgate.validators.normalize import normalize_bytes, template_key
from synthgate.validators.refusal import is_refusal
from synthgate.validators.sets.findings import (
    duplicate_share,
    group_label,
    low_diversity,
    refusal_share,
    shared_system_prompt,
    template_collapse,
    templated_prompts,
)
from synthgate.validators.sets.minhash import (
    BANDS,
    EMPTY,
    K1,
    ROW_MULT,
    ROWS,
    KeyIndex,
    mix,
    signatures,
)

NAME = "sets"

_BATCH = 2048
_MAX_CANDIDATES = 4  # earlier records confirmed per field, most shared bands first
_STRONG_BANDS = 11  # > half the bands agree: J ~ 0.8+, accepted when the earlier text is gone
# record, prompt, completion exact keys; prompt bands; completion bands; prompt template key
_NCOLS = 4 + 2 * BANDS
_TEMPLATE = 3 + 2 * BANDS
# Two prompts close as wholes are near duplicates only if what they ask is close too: RAG prompts
# sharing a retrieved passage but asking other questions are not. Asks are short, so a one-word
# edit moves their ratio far more than a long prompt's: the bar is lower than the whole prompt's.
_ASK_THRESHOLD = 85.0
# Context lines (see `_own_requests`): a normalized prompt line this long or longer is counted
# across records (shorter ones, "}" or "return x", say nothing about shared context); at most
# _MAX_LINES distinct lines of a prompt are counted and kept.
_MIN_CONTEXT_LINE = 16
_MAX_LINES = 256
# A completion shorter than this many words that another record also gives counts as a duplicate
# only when the two prompts are this similar (rapidfuzz ratio) too; see `_generic_answer`.
_MIN_ANSWER_WORDS = 20
_SHORT_ANSWER_PROMPT_RATIO = 85.0
_MAX_SHORT_ANSWER_GROUP = 32  # earlier records kept per short answer (bounded state)
# Courtesy words change no request: prompts are compared without them.
_COURTESY = frozenset({b"please", b"kindly"})
# How a request is framed changes nothing it asks: a leading "can you" / "I want you to" / "answer
# the following question", an instruction verb among its synonyms ("Generate a haiku" asks what
# "Write a haiku" does), "give me" for "give", "the following sentence" for "the given sentence".
_FRAMES = (
    (b"can", b"you"),
    (b"could", b"you"),
    (b"would", b"you"),
    (b"will", b"you"),
    (b"i", b"want", b"you", b"to"),
    (b"i", b"need", b"you", b"to"),
    (b"i", b"would", b"like", b"you", b"to"),
    (b"i", b"d", b"like", b"you", b"to"),
    (b"answer", b"the", b"given", b"question"),
    (b"answer", b"the", b"given", b"questions"),
)
_VERB_SYNONYMS = {
    b"generate": b"write",
    b"create": b"write",
    b"compose": b"write",
    b"produce": b"write",
    b"make": b"write",
    b"provide": b"give",
    b"suggest": b"give",
    b"offer": b"give",
}
_GIVEN = re.compile(rb"\bthe (?:following|provided|below)\b")
_FRAME_WORDS = 6  # the longest frame, plus the verb after it
_MAX_SLOT_WORDS = 3  # a slot value swapped between two templated prompts: a number, a name
_TOP_OPENINGS = 5
_TOP_LABELS = 20  # task types / personas listed in stats; the rest are counted as distinct only
_MAX_LABELS = 10_000  # distinct labels tracked; later new ones only count toward "other"
_LABEL_CHARS = 80

_DIGITS = b"0123456789"
_HEAD_CHARS = 80
_MAX_TEMPLATE_BYTES = 1000  # numeric templates are short drills and puzzles, not long RAG prompts
# Distinct openings / system prompts counted exactly; past this, keys seen once are dropped (a set
# collapsed onto one template repeats it far more often than once per prune, so no finding is lost;
# a count may be short by the number of prunes, one per _MAX_COUNTED distinct keys at most).
_MAX_COUNTED = 200_000
_SALTS = mix(np.arange(101, 101 + _NCOLS, dtype=np.uint64) * K1)


class SetChecker:
    """Observes records one by one, then reports per-record duplicate verdicts and set findings."""

    def __init__(self, config: SetConfig = SetConfig()) -> None:
        self.config = config
        self._n = 0
        self._indexes = array("q")  # position -> caller's record index (gaps allowed)
        self._keys = KeyIndex()
        # prompt, completion, ask, prompt lines (normalized; empty for a one-line prompt)
        self._cache: dict[int, tuple[bytes, bytes, bytes | None, tuple[bytes, ...]]] = {}
        self._line_counts: Counter[int] = Counter()  # context-length prompt line key -> records
        self._b_lines: list[list[int]] = []  # the batch's context-length line keys, counted in order
        self._cache_order: deque[int] = deque()
        self._short_answers: dict[int, list[int]] = {}  # short completion key -> first positions
        self._cache_bytes = 0
        self._batch: list[tuple[int, int, int, int, int, int]] = []  # exact keys, lengths, template key
        self._roots = array("q")  # position -> first record of its prompt template
        self._templated: Counter[int] = Counter()  # template root -> later records filling it
        self._template_head: dict[int, str] = {}
        self._b_texts: tuple[list[bytes], list[bytes]] = ([], [])
        self._b_heads: list[str] = []  # the batch's prompt heads, to show a template example
        self._verdicts: dict[int, list[Verdict]] = {}  # found, not yet taken by the caller
        self._dup_records = 0  # records with a duplicate verdict other than dup.near_prompt alone
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
        self._roots.append(pos)
        prompt = _prompt_text(sample)
        # Symbols kept: two puzzles "#@! = !#" and "%^& = &%", or `i <= n` and `i < n`, differ.
        np_, nc = normalize_bytes(prompt, "symbols"), normalize_bytes(sample.completion, "symbols")
        np_ = request_key(np_)
        ask = _ask(sample)
        system = sample.system_prompt or ""
        # Stable 64-bit keys: collisions at 64 bits are negligible. A prompt without digits has no
        # numeric template key (0: none).
        hs, hp, hc = stable_hash(system.encode()), stable_hash(np_), stable_hash(nc)
        templated = len(np_) <= _MAX_TEMPLATE_BYTES and len(np_.translate(None, _DIGITS)) < len(np_)
        ht = stable_hash(template_key(np_)) if templated else 0
        record = stable_hash(b"%d %d %d" % (hs, hp, hc))
        self._batch.append((record, hp, hc, len(prompt), len(sample.completion), ht))
        self._b_texts[0].append(np_)
        self._b_texts[1].append(nc)
        self._b_heads.append(prompt[:_HEAD_CHARS])
        lines = _prompt_lines(prompt)
        self._b_lines.append([stable_hash(x) for x in lines if len(x) >= _MIN_CONTEXT_LINE])
        self._cache[pos] = (np_, nc, ask, lines)
        if nc.count(b" ") + 1 < _MIN_ANSWER_WORDS:
            group = self._short_answers.setdefault(hc, [])
            if len(group) < _MAX_SHORT_ANSWER_GROUP:
                group.append(pos)
        self._cache_order.append(pos)
        self._cache_bytes += len(np_) + len(nc) + len(ask or b"") + sum(map(len, lines))
        self._nonempty["prompt"] += bool(np_)
        self._nonempty["completion"] += bool(nc)

        task = sample.task_type
        self._groups[task] += 1
        # A completion that opens with a tool call opens with the tool's name, not with words the
        # teacher chose; many calls to one tool are not a collapsed template.
        if nc and not sample.completion.startswith(TOOL_CALL_OPEN):
            opening = b" ".join(nc.split(b" ", self.config.opening_words)[: self.config.opening_words])
            key = (task, stable_hash(opening))
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
            if len(self._openings) > _MAX_COUNTED or len(self._all_openings) > _MAX_COUNTED:
                _prune(self._openings, self._opening_text)
                _prune(self._all_openings, self._all_opening_text)
            if len(self._systems) > _MAX_COUNTED:
                _prune(self._systems, self._system_head)
            if len(self._line_counts) > _MAX_COUNTED:
                _prune(self._line_counts, {})

    def take_verdicts(self) -> list[tuple[int, Verdict]]:
        """Duplicate verdicts found so far and not yet taken, (record index, verdict) in record order:
        a caller that stores them as they come keeps none in memory. `finish` returns the rest."""
        out = [(i, v) for i, vs in sorted(self._verdicts.items()) for v in vs]
        self._verdicts.clear()
        return out

    def finish(self) -> tuple[dict[int, list[Verdict]], list[SetFinding]]:
        """Per-record verdicts (record index -> the later copies' dup verdicts) and set findings."""
        self._flush()
        findings = [
            *duplicate_share(self._dup_records, self._dup_codes, self._n, self.config),
            *shared_system_prompt(self._systems, self._system_head, self._n, self.config),
            *template_collapse(self._openings, self._opened, self._opening_text, self.config),
            *refusal_share(self._groups, self._refusals, self._n, self.config),
            *low_diversity(self.stats(), self.config),
            *templated_prompts(self._templated, self._template_head, self._n),
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
            by_task = Counter({group_label(t): c for t, c in self._groups.items()})
            out["task_types"] = _distribution(by_task, n, 0)
        if self._personas:
            out["personas"] = _distribution(self._personas, n, self._personas_other)
        return out

    def _flush(self) -> None:
        m = len(self._batch)
        if m == 0:
            return
        pos = np.arange(self._n - m, self._n, dtype=np.int64)
        info = np.array(self._batch, dtype=np.int64)
        sig = signatures(self._b_texts[0] + self._b_texts[1])
        bands = sig[:, : ROWS * BANDS].reshape(2 * m, BANDS, ROWS)
        band_keys = (bands * ROW_MULT).sum(axis=2, dtype=np.uint64)
        band_ok = (bands != EMPTY).any(axis=2)
        exact_ok = np.ones((m, 3), bool)
        exact_ok[:, 1], exact_ok[:, 2] = info[:, 3] > 0, info[:, 4] > 0
        template = info[:, 5:6]
        keys = np.concatenate(
            (info[:, :3].view(np.uint64), band_keys[:m], band_keys[m:], template.view(np.uint64)), axis=1
        )
        valid = np.concatenate((exact_ok, band_ok[:m], band_ok[m:], template != 0), axis=1)
        # Salting per column keeps a prompt key from ever matching a completion or band key.
        keys = mix(keys ^ _SALTS)

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
        judged = seen.any(axis=1)
        for row in range(m):
            # Lines are counted in record order, so a verdict depends only on the records before it.
            self._line_counts.update(self._b_lines[row])
            if judged[row]:
                self._judge(int(pos[row]), heads[row], int(info[row, 3]), int(info[row, 4]))

        self._batch.clear()
        self._b_texts[0].clear()
        self._b_texts[1].clear()
        self._b_heads.clear()
        self._b_lines.clear()
        budget = self.config.near_duplicate_cache_mb * 1_000_000
        while self._cache_bytes > budget and self._cache_order:
            gone = self._cache_order.popleft()
            a, b, ask, lines = self._cache.pop(gone)
            self._cache_bytes -= len(a) + len(b) + len(ask or b"") + sum(map(len, lines))
            group = self._short_answers.get(stable_hash(b))
            if group is not None and gone in group:  # its prompt is gone: nothing left to compare
                group.remove(gone)
                if not group:
                    del self._short_answers[stable_hash(b)]

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
                    if fi == 1 and self._generic_answer(p, int(head)):
                        continue
                    j = self._indexes[head]
                    message = f"same {field} as record {j}"
                    found.append(verdict(NAME, f"dup.exact_{field}", message, span=span))
                    continue
                if fi == 0 and 0 <= heads[_TEMPLATE] < p:
                    self._join_template(p, int(heads[_TEMPLATE]))  # only its numbers differ
                    continue
                near = self._near(p, fi, heads[3 + fi * BANDS : 3 + (fi + 1) * BANDS])
                if near is None:
                    continue
                if near[2]:
                    self._join_template(p, near[0])
                    continue
                if fi == 1 and self._generic_answer(p, near[0]):
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
            # Near-duplicate prompts alone don't count toward the share (see duplicate_share).
            self._dup_records += any(v.code != "dup.near_prompt" for v in found)

    def _near(self, p: int, fi: int, band_heads: np.ndarray) -> tuple[int, float | None, bool] | None:
        """The best earlier near duplicate: (position, ratio or None, whether it is only a template
        filled with other slot values). Prompts must also ask nearly the same (see _ASK_THRESHOLD)."""
        candidates = Counter(h for h in band_heads.tolist() if 0 <= h < p)  # Python ints: no numpy scalars
        if not candidates:
            return None
        mine = self._cache[p]
        best: tuple[int, float | None, bool] | None = None
        ranked = sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_CANDIDATES]
        for j, shared_bands in ranked:
            held = self._cache.get(j)
            if held is None:
                if best is None and shared_bands >= _STRONG_BANDS:
                    best = (j, None, False)
                continue
            score = fuzz.ratio(mine[fi], held[fi], score_cutoff=self.config.near_duplicate_threshold)
            if not score or (best is not None and best[1] is not None and score <= best[1]):
                continue
            slot = False
            if fi == 0:
                ask, other = mine[2], held[2]
                if (ask is not None or other is not None) and not fuzz.ratio(
                    ask or mine[0], other or held[0], score_cutoff=_ASK_THRESHOLD
                ):
                    continue  # the same passage, another question
                pair = self._own_requests(mine[3], held[3]) or (ask or mine[0], other or held[0])
                if not fuzz.ratio(*pair, score_cutoff=_ASK_THRESHOLD):
                    continue  # the same shared context (a tool description), another request
                slot = _slot_swap(*pair)
            best = (j, score, slot)
        return best

    def _own_requests(self, mine: tuple[bytes, ...], held: tuple[bytes, ...]) -> tuple[bytes, bytes] | None:
        """Two prompts' lines without the context they share, or None when they share none.

        Shared context is a line both prompts carry that a third record's prompt carries too (a
        tool description, an instructions preamble); with one such line found, every line the two
        share counts as context. None as well when either prompt is left empty (one is the other
        plus a line: judged whole). Only lines of _MIN_CONTEXT_LINE bytes or more count."""
        if not mine or not held:
            return None
        shared = {x for x in set(mine).intersection(held) if len(x) >= _MIN_CONTEXT_LINE}
        if not any(self._line_counts[stable_hash(x)] >= 3 for x in shared):
            return None
        a = b" ".join(x for x in mine if x not in shared)
        b = b" ".join(x for x in held if x not in shared)
        if not a or not b:
            return None
        return request_key(a), request_key(b)

    def _generic_answer(self, p: int, earlier: int) -> bool:
        """A short completion ("7", "You're welcome! ...", "The email has been sent.") shared with an
        earlier record whose prompt asks something else: the same short answer to another question
        is no duplicate. A long shared completion, or a short one after a similar prompt (the same
        conversation regenerated), still is; so is one whose earlier prompt is no longer held."""
        mine, held = self._cache[p], self._cache.get(earlier)
        if held is None or mine[1].count(b" ") + 1 >= _MIN_ANSWER_WORDS:
            return False
        # Every earlier record giving that answer, not only the first: the conversation this one
        # regenerates may be the third to end in "You're welcome!".
        same = self._short_answers.get(stable_hash(held[1]), [])
        for j in [earlier, *(q for q in same if q < p and q != earlier)]:
            other = self._cache.get(j)
            if other is None or fuzz.ratio(mine[0], other[0]) >= _SHORT_ANSWER_PROMPT_RATIO:
                return False
        return True

    def _join_template(self, p: int, earlier: int) -> None:
        """Count record `p` as filling the prompt template of the earlier record at `earlier`."""
        root = self._roots[earlier]
        self._roots[p] = root
        self._templated[root] += 1
        if root not in self._template_head:
            head = self._b_heads[p - (self._n - len(self._batch))]  # p is in the batch being flushed
            self._template_head[root] = " ".join(head.split())


def request_key(normalized: bytes) -> bytes:
    """A normalized prompt without the framing of its request, for comparing what prompts ask.

    >>> request_key(b"can you please generate a haiku about the ocean")
    b'write a haiku about the ocean'
    >>> request_key(b"answer the following question what is the capital of australia")
    b'what is the capital of australia'
    >>> request_key(b"give me an example of a palindrome")
    b'give an example of a palindrome'
    """
    if b"please" in normalized or b"kindly" in normalized:
        # "Can you please order a pizza?" asks what "Can you order a pizza?" does.
        normalized = b" ".join(w for w in normalized.split(b" ") if w not in _COURTESY)
    if b"the following" in normalized or b"the provided" in normalized or b"the below" in normalized:
        normalized = _GIVEN.sub(b"the given", normalized)
    head = normalized.split(b" ", _FRAME_WORDS)
    rest = head.pop() if len(head) > _FRAME_WORDS else b""
    stripped = True
    while stripped:
        stripped = False
        for frame in _FRAMES:
            # Only a frame with a request after it is framing; alone it is the whole prompt.
            if tuple(head[: len(frame)]) == frame and (len(head) > len(frame) or rest):
                head, stripped = head[len(frame) :], True
    if head and head[0] in _VERB_SYNONYMS:
        head[0] = _VERB_SYNONYMS[head[0]]
    if head[:2] in ([b"give", b"me"], [b"give", b"us"]):
        del head[1]
    return b" ".join([*head, rest] if rest else head)


def stable_hash(data: bytes) -> int:
    """A signed 64-bit key of `data`, the same in every process (Python's `hash` is salted).

    >>> stable_hash(b"abc") == stable_hash(b"abc") != stable_hash(b"abd")
    True
    """
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little", signed=True)


def _prune(counts: Counter, texts: dict) -> None:
    """Drop the keys seen once (bounded state; see _MAX_COUNTED)."""
    for key in [k for k, n in counts.items() if n == 1]:
        del counts[key]
        texts.pop(key, None)


def _prompt_text(sample: Sample) -> str:
    if len(sample.prompt) == 1:
        return sample.prompt[0].content
    return "\n".join(f"{m.role}: {m.content}" for m in sample.prompt)


# A context passage in a user turn: "Context:", "Passage 2:", "**Documents:**", "<context>...".
_CONTEXT_LABEL = re.compile(
    r"^[ \t]*[#*>]*[ \t]*(?:context|passages?|documents?|docs?|articles?|texts?|sources?|excerpts?|"
    r"background|references?|snippets?|retrieved[ \w]{0,20})[ \t]*\d*[ \t]*\**[ \t]*:|"
    r"<(?:context|documents?|passages?|sources?)\b",
    re.IGNORECASE | re.MULTILINE,
)
_ASK_LABEL = re.compile(
    r"^[ \t]*[#*>]*[ \t]*(?:question|query|task|instruction|q)[ \t]*\d*[ \t]*\**[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_CONTEXT_TAG = re.compile(
    r"<(context|documents?|passages?|sources?)\b.*?(?:</\1>|\Z)", re.IGNORECASE | re.DOTALL
)


def _ask(sample: Sample) -> bytes | None:
    """What the last user turn asks, without its context passage (normalized), or None when the
    turn has no labelled context: "Context: <passage>\n\nQuestion: <ask>" gives the ask, as does
    "<instructions>\n\nText: <passage>" (the instructions) or a passage followed by an unlabelled
    last paragraph."""
    users = [m.content for m in sample.prompt if m.role == "user"]
    if not users or not (m := _CONTEXT_LABEL.search(users[-1])):
        return None
    text = users[-1]
    if text[m.start() :].lstrip().startswith("<"):
        return normalize_bytes(_CONTEXT_TAG.sub(" ", text), "symbols")
    before, rest = text[: m.start()], text[m.end() :]
    if q := _ASK_LABEL.search(rest):
        return normalize_bytes(f"{before}\n{rest[q.end() :]}", "symbols")
    paragraphs = [p for p in rest.split("\n\n") if p.strip()]
    tail = paragraphs[-1] if len(paragraphs) >= 2 else ""
    return normalize_bytes(f"{before}\n{tail}", "symbols")


def _slot_swap(a: bytes, b: bytes) -> bool:
    """The two texts differ only by swapped short values (a number, a name, a word or three)."""
    ops = SequenceMatcher(None, a.split(), b.split(), autojunk=False).get_opcodes()
    diffs = [op for op in ops if op[0] != "equal"]
    return bool(diffs) and all(
        tag == "replace" and i2 - i1 <= _MAX_SLOT_WORDS and j2 - j1 <= _MAX_SLOT_WORDS
        for tag, i1, i2, j1, j2 in diffs
    )


def _prompt_lines(prompt: str) -> tuple[bytes, ...]:
    """A multi-line prompt's distinct non-empty lines, normalized, in order (at most _MAX_LINES);
    empty for a one-line prompt (nothing in it can be a separate context line)."""
    if "\n" not in prompt:
        return ()
    out: dict[bytes, None] = {}
    for line in prompt.split("\n"):
        if key := normalize_bytes(line, "symbols"):
            out[key] = None
            if len(out) >= _MAX_LINES:
                break
    return tuple(out) if len(out) > 1 else ()


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
