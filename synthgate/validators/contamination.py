"""Eval contamination: records that contain benchmark items, or that their validation split holds too.

`ContaminationIndex` is built once from `ContaminationItem`s (benchmark questions, loaded by
synthgate.audit.contamination_items); the
`ContaminationValidator` then checks each record's user turns and completion against it:

- `contam.exact_match`: a user turn equals an eval item after normalization, or contains a whole
  eval item of at least `min_contained_words` words ("Solve this: <question> Show your work."), or
  one of its lines equals a shorter eval item of 3+ words. List numbering ("2. ", "Q5:", "(b) ")
  is ignored on both sides (`normalize.strip_enumeration`), and so is quoting: "2. What does a
  Python decorator do?" in training is "5. What does a Python decorator do?" of the eval set.
- `contam.ngram_overlap`: a user turn or the completion shares a run of `ngram_words` (13) words
  with an eval item, the test of GPT-3 and open-instruct decontamination.

Normalization: `normalize.tokens`, runs of letters and digits lower-cased character by character
(apostrophes separate words, so "Janet's" and "Janet’s" match).
An n-gram found in many distinct eval items (`boilerplate_min_items` and `boilerplate_share` of
them) is dropped: answer-format lines and instructions a benchmark repeats on every item are not
evidence (an item made only of such n-grams is still found when a user turn equals it).

Speed: a clean record costs one tokenization and about words/6 set look-ups. The index holds
every 8-word gram (for n=13) of the eval items' non-boilerplate 13-word windows; the record is
probed only at every 6th word, which is enough because any shared 13-word run holds one probed
8-word gram. Only a record that hits a probe has all its 13-grams hashed and looked up.

`SplitIndex` and `SplitOverlapValidator` find records whose prompt and completion
(`contam.split_overlap`), or prompt alone with another completion (`contam.split_prompt_overlap`),
also appear (normalized) in another file such as the validation split.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from synthgate.errors import ConfigError
from synthgate.schemas.chain_config import ContaminationConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Ref, Span, Verdict
from synthgate.validators.base import CheckedText, Result, Validator, texts_to_check
from synthgate.validators.codes import verdict
from synthgate.validators.normalize import strip_enumeration, token_offsets, tokens

_USER = frozenset({"user"})
_OPERATOR = re.compile(r"[=<>+*/%^&|~#@$\\\u2212\u00d7\u00f7\u2264\u2265\u2260]|(?<=[\d\s])-(?=[\d\s(])")
_MIN_LINE_ITEM_WORDS = 3  # a line equal to a shorter eval item ("Write a haiku.") is a match
_MAX_LINE_CHARS = 200  # lines longer than this hold 8+ words: containment finds those items


@dataclass(frozen=True)
class ContaminationItem:
    """One benchmark question to look for: its record `index` (0-based) in `source` (its file), its text."""

    index: int
    text: str
    source: str


def exact_key(toks: Sequence[bytes], text: str) -> bytes:
    """What an exact match compares: the words, and the math/code operators in their order, so
    "2 + 2 = ?" and "2 - 2 = ?" (the same words) are two items.

    >>> exact_key(tokens("2 + 2 = ?"), "2 + 2 = ?") == exact_key(tokens("2 * 2 = ?"), "2 * 2 = ?")
    False
    """
    return b" ".join(toks) + b"\0" + "".join(_OPERATOR.findall(text)).encode()


def _grams(toks: Sequence[bytes], n: int, step: int = 1) -> Iterable[int]:
    """Hashes of the word n-grams starting at every `step`-th word (C-level zip and hash)."""
    return map(hash, zip(*(toks[i::step] for i in range(n)), strict=False))


def _gram_array(toks: Sequence[bytes], n: int) -> np.ndarray:
    return np.fromiter(_grams(toks, n), dtype=np.int64, count=max(0, len(toks) - n + 1))


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width] + "…"


def describe(item: ContaminationItem) -> str:
    """How messages name an eval item: file name, record index, the start of its text."""
    return f'{Path(item.source).name} record {item.index} ("{_preview(item.text)}")'


class ContaminationIndex:
    """Normalized eval items, their non-boilerplate n-grams and a sparse probe set, built once."""

    def __init__(
        self, items: Sequence[ContaminationItem], n: int, min_contained_words: int, boilerplate_df: int
    ):
        self.items = list(items)
        self.n = n
        self.min_contained_words = min_contained_words
        self.boilerplate_df = boilerplate_df
        self.boilerplate_ngrams = 0  # distinct n-grams dropped as boilerplate
        # The record is probed with k-grams at every `step`-th word: a shared n-word run always
        # holds one probe (k + step - 1 = n).
        self.step = max(1, n // 2)
        self.k = n - self.step + 1
        self._norm: list[bytes] = []  # " ".join(tokens) per item
        self._exact: dict[bytes, int] = {}  # normalized text -> first item with it
        self._short: dict[int, list[int]] = {}  # first-words hash of items shorter than n
        self._probe: set[int] = set()
        self._keys = np.empty(0, dtype=np.int64)  # sorted n-gram hashes
        self._ids = np.empty(0, dtype=np.int32)  # the item of each key

    @classmethod
    def build(
        cls,
        items: Iterable[ContaminationItem],
        n: int = 13,
        boilerplate_df: int | None = None,
        min_contained_words: int = 8,
        *,
        boilerplate_min_items: int = 3,
        boilerplate_share: float = 0.005,
    ) -> ContaminationIndex:
        """Index `items`; an n-gram in `boilerplate_df` or more distinct items is dropped as boilerplate.

        `boilerplate_df` None: max(boilerplate_min_items, boilerplate_share of the distinct items).
        """
        index = cls(list(items), n, min_contained_words, 0)
        long: list[tuple[int, list[bytes], np.ndarray]] = []  # item, words, n-gram hashes by position
        seen: set[bytes] = set()
        for i, item in enumerate(index.items):
            stripped = strip_enumeration(item.text)
            toks = tokens(stripped)
            key = b" ".join(toks)
            index._norm.append(key)
            if toks:
                index._exact.setdefault(exact_key(toks, stripped), i)
            if not toks or key in seen:
                continue  # a repeated item must not make its own n-grams look like boilerplate
            seen.add(key)
            if len(toks) >= n:
                long.append((i, toks, _gram_array(toks, n)))
            elif len(toks) >= min_contained_words:
                index._short.setdefault(hash(tuple(toks[:min_contained_words])), []).append(i)
        share = math.ceil(boilerplate_share * len(seen))
        index.boilerplate_df = boilerplate_df or max(boilerplate_min_items, share)
        if long:
            index._fill(long)
        return index

    @classmethod
    def from_config(
        cls, items: Iterable[ContaminationItem], config: ContaminationConfig
    ) -> ContaminationIndex:
        """`build` with the thresholds of a ContaminationConfig."""
        return cls.build(
            items,
            config.ngram_words,
            min_contained_words=config.min_contained_words,
            boilerplate_min_items=config.boilerplate_min_items,
            boilerplate_share=config.boilerplate_share,
        )

    def _fill(self, long: list[tuple[int, list[bytes], np.ndarray]]) -> None:
        # Document frequency: in how many distinct items each n-gram occurs.
        per_item = np.concatenate([np.unique(g) for _, _, g in long])
        hashes, counts = np.unique(per_item, return_counts=True)
        boiler = hashes[counts >= self.boilerplate_df]
        self.boilerplate_ngrams = int(boiler.size)
        grams = np.concatenate([g for _, _, g in long])
        kept_all = ~np.isin(grams, boiler)
        keys = grams[kept_all]
        ids = np.repeat(np.array([i for i, _, _ in long], dtype=np.int32), [g.size for _, _, g in long])
        ids = ids[kept_all]
        order = np.argsort(keys, kind="stable")
        self._keys, self._ids = keys[order], ids[order]
        span, at = self.n - self.k, 0
        for _, toks, g in long:
            kept, at = kept_all[at : at + g.size], at + g.size
            # The probe k-gram at word j is needed iff a kept n-gram window [a, a + n) holds it.
            covered = np.concatenate(([0], np.cumsum(kept)))
            j = np.arange(len(toks) - self.k + 1)
            needed = covered[np.minimum(j, g.size - 1) + 1] - covered[np.maximum(0, j - span)] > 0
            probes = np.fromiter(_grams(toks, self.k), dtype=np.int64, count=j.size)
            self._probe.update(probes[needed].tolist())

    def __len__(self) -> int:
        return len(self.items)

    def __reduce__(self) -> tuple:
        # hash() of bytes is salted per process (PYTHONHASHSEED): a pickled index (a worker
        # process) is rebuilt from its items rather than shipped with hashes that mean nothing there.
        return (ContaminationIndex.build, (self.items, self.n, self.boilerplate_df, self.min_contained_words))

    def exact(self, normalized: bytes) -> int | None:
        """The item whose `exact_key` is `normalized`, if any."""
        return self._exact.get(normalized)

    def ngram_hits(self, toks: list[bytes]) -> dict[int, list[int]]:
        """item -> word positions in `toks` where a non-boilerplate n-gram of the item starts."""
        if len(toks) < self.n or not self._probe or self._probe.isdisjoint(_grams(toks, self.k, self.step)):
            return {}
        grams = _gram_array(toks, self.n)
        left = np.searchsorted(self._keys, grams, side="left")
        right = np.searchsorted(self._keys, grams, side="right")
        hits: dict[int, list[int]] = {}
        for pos in np.flatnonzero(right > left).tolist():
            for item in self._ids[left[pos] : right[pos]].tolist():
                hits.setdefault(item, []).append(pos)
        return hits

    def short_hits(self, toks: list[bytes]) -> list[int]:
        """Items shorter than n whose first words start somewhere in `toks` (containment candidates)."""
        m = self.min_contained_words
        if not self._short or len(toks) < m:
            return []
        found = [self._short[h] for h in _grams(toks, m) if h in self._short]
        return list(dict.fromkeys(i for ids in found for i in ids))

    def find(self, item: int, toks: list[bytes]) -> int | None:
        """The first word position where the whole item occurs in `toks`, if it does."""
        text = b" " + b" ".join(toks) + b" "
        at = text.find(b" " + self._norm[item] + b" ")
        return None if at < 0 else text.count(b" ", 0, at + 1) - 1

    def contains(self, item: int, run: list[bytes]) -> bool:
        """Whether the words `run` occur in the item (rules out a hash collision)."""
        return b" " + b" ".join(run) + b" " in b" " + self._norm[item] + b" "

    def words(self, item: int) -> int:
        return self._norm[item].count(b" ") + 1 if self._norm[item] else 0


@dataclass(frozen=True)
class _Finding:
    code: str
    item: int
    first: int  # word positions [first, last) in the checked text
    last: int
    message: str
    score: float


class ContaminationValidator(Validator):
    """Flags user turns and completions that repeat eval items, exactly or by a long n-gram."""

    name: ClassVar[str] = "contamination"

    def __init__(self, index: ContaminationIndex, config: ContaminationConfig | None = None) -> None:
        self.config = config or ContaminationConfig()
        if (index.n, index.min_contained_words) != (self.config.ngram_words, self.config.min_contained_words):
            raise ConfigError(
                f"the eval index was built with ngram_words={index.n}, min_contained_words="
                f"{index.min_contained_words} but the config says {self.config.ngram_words}, "
                f"{self.config.min_contained_words}; build it with ContaminationIndex.from_config"
            )
        self.index = index

    def check(self, sample: Sample) -> Result:
        if not self.index.items:
            return Result(sample, [])
        out: list[Verdict] = []
        seen: set[tuple[str, int]] = set()
        texts = texts_to_check(sample, roles=_USER)
        if not self.config.check_completion:
            texts = texts[1:]
        # Prompt turns before the completion, exact matches before n-gram runs.
        scans = [(t, f) for t in texts[::-1] for f in self._scan(t)]
        if not scans:
            return Result(sample, out)
        scans.sort(key=lambda tf: tf[1].code != "contam.exact_match")
        for t, f in scans:
            if (t.field, f.item) in seen or len(out) >= self.config.max_verdicts:
                continue
            seen.add((t.field, f.item))
            item = self.index.items[f.item]
            ref = Ref(source=item.source, index=item.index)
            out.append(verdict(self.name, f.code, f.message, span=_span(t, f), score=f.score, ref=ref))
        return Result(sample, out)

    def _scan(self, t: CheckedText) -> list[_Finding]:
        idx, toks = self.index, tokens(t.text)
        if not toks:
            return []
        found: list[_Finding] = []
        is_prompt = t.field == "prompt"
        if is_prompt:
            found += self._exact_lines(t, toks)
        hits = idx.ngram_hits(toks)
        candidates = list(hits) + (idx.short_hits(toks) if is_prompt else [])
        for item in dict.fromkeys(candidates):
            if any(f.item == item for f in found):
                continue
            label, m = describe(idx.items[item]), idx.words(item)
            at = idx.find(item, toks) if is_prompt and m >= idx.min_contained_words else None
            if at is not None:
                msg = f"{t.where} contains eval item {label} ({m} words)"
                found.append(_Finding("contam.exact_match", item, at, at + m, msg, 1.0))
            elif item in hits:
                first, last = _longest_run(hits[item], idx.n)
                if not idx.contains(item, toks[first:last]):
                    last = first + idx.n  # consecutive n-grams from two places in the item
                if idx.contains(item, toks[first:last]):
                    msg = f"{t.where} shares a {last - first}-word run with eval item {label}"
                    score = min(1.0, (last - first) / m)
                    found.append(_Finding("contam.ngram_overlap", item, first, last, msg, score))
        return found

    def _exact_lines(self, t: CheckedText, toks: list[bytes]) -> list[_Finding]:
        """The turn, or one of its short lines, equals an eval item once numbering is stripped."""
        idx = self.index
        text = strip_enumeration(t.text)
        stripped = tokens(text)
        if (item := idx.exact(exact_key(stripped, text))) is not None:
            first = max(0, len(toks) - len(stripped))  # numbering opens the turn
            msg = f"{t.where} is eval item {describe(idx.items[item])}"
            return [_Finding("contam.exact_match", item, first, len(toks), msg, 1.0)]
        if "\n" not in t.text.strip():
            return []
        out, pos = [], 0
        for line in t.text.split("\n"):
            start, pos = pos, pos + len(line) + 1
            if len(line) > _MAX_LINE_CHARS or not line.strip():
                continue
            text = strip_enumeration(line)
            words = tokens(text)
            if len(words) < _MIN_LINE_ITEM_WORDS or (item := idx.exact(exact_key(words, text))) is None:
                continue
            first = len(tokens(t.text[:start])) + len(tokens(line)) - len(words)
            msg = f"a line of {t.where} is eval item {describe(idx.items[item])}"
            out.append(_Finding("contam.exact_match", item, first, first + len(words), msg, 1.0))
        return out


def _longest_run(positions: list[int], n: int) -> tuple[int, int]:
    """[first, last) words of the longest stretch covered by consecutive n-gram starts."""
    best = (positions[0], positions[0] + n)
    start = prev = positions[0]
    for p in positions[1:]:
        if p != prev + 1:
            start = p
        prev = p
        if p + n - start > best[1] - best[0]:
            best = (start, p + n)
    return best


def _span(t: CheckedText, f: _Finding) -> Span:
    offsets = token_offsets(t.text)
    return Span(start=offsets[f.first][0], end=offsets[f.last - 1][1], field=t.field)


# --- train/validation split overlap ----------------------------------------------------------


def _split_keys(sample: Sample) -> tuple[bytes, bytes] | None:
    """Stable digests of the normalized prompt turns, and of those plus the completion.

    The system prompt is left out: train and validation records share one by design. blake2b, not
    hash(), so an index keeps its meaning in another process. None for a prompt without words.
    """
    turns = [m.role.encode() + b":" + b" ".join(tokens(m.content)) for m in sample.prompt]
    if not any(t.partition(b":")[2] for t in turns):
        return None
    prompt = hashlib.blake2b(b"\n".join(turns), digest_size=8)
    record = prompt.copy()
    record.update(b"\ncompletion:" + b" ".join(tokens(sample.completion)))
    return prompt.digest(), record.digest()


@dataclass(frozen=True)
class SplitIndex:
    """Normalized prompt and prompt+completion digests of another file's records (a validation split)."""

    source: str
    prompts: dict[bytes, int]  # digest -> record index in `source`
    records: dict[bytes, int]

    @classmethod
    def build(cls, samples: Iterable[tuple[int, Sample]], source: str | Path) -> SplitIndex:
        """Index (record index, sample) pairs, e.g. `SplitIndex.build(enumerate(valid), "valid.jsonl")`."""
        prompts: dict[bytes, int] = {}
        records: dict[bytes, int] = {}
        for i, sample in samples:
            if keys := _split_keys(sample):
                prompts.setdefault(keys[0], i)
                records.setdefault(keys[1], i)
        return cls(str(source), prompts, records)

    def __len__(self) -> int:
        return len(self.prompts)


class SplitOverlapValidator(Validator):
    """Flags records whose prompt (with or without the completion) is also in the other split."""

    name: ClassVar[str] = "split_overlap"

    def __init__(self, index: SplitIndex) -> None:
        self.index = index

    def check(self, sample: Sample) -> Result:
        keys = _split_keys(sample)
        if keys is None:
            return Result(sample, [])
        name = Path(self.index.source).name
        code = "contam.split_overlap"
        if (other := self.index.records.get(keys[1])) is not None:
            msg = f"the prompt and completion match {name} record {other} (after normalization)"
        elif (other := self.index.prompts.get(keys[0])) is not None:
            code = "contam.split_prompt_overlap"
            msg = f"the prompt matches {name} record {other} (after normalization), with another completion"
        else:
            return Result(sample, [])
        last = max((i for i, m in enumerate(sample.prompt) if m.role == "user"), default=None)
        span = None if last is None else Span(start=0, end=len(sample.prompt[last].content), field="prompt")
        ref = Ref(source=self.index.source, index=other)
        return Result(sample, [verdict(self.name, code, msg, span=span, score=1.0, ref=ref)])
