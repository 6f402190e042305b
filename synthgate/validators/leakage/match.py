"""Where a completion recites one source: verbatim runs of its words, or one of its rules lightly edited.

A source is prepared once per distinct text (its word n-gram index and rule sentences, cached:
datasets mostly share one system prompt); a completion is aligned against it only around the
n-grams the two share.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from synthgate.schemas.chain_config import LeakageConfig
from synthgate.validators.leakage.words import (
    META_WORDS,
    char_spans,
    expand_negations,
    is_content_word,
    ngrams,
    split_words,
    stem_keys,
)
from synthgate.validators.text import sentence_spans

_MOST_OF_SHORT = 0.8  # share of a short source's characters that counts as reciting it
_MAX_JOIN_GAP = 2  # edited words allowed between two verbatim runs joined into one region
_MIN_CONTENT = 3  # content words a rule match must share: fewer is ordinary prose
_FEW_GRAMS = 16  # up to this many shared n-grams are located by search, more by one pass


@dataclass(frozen=True, eq=False)
class _Rule:
    first: int  # word range [first, last] in the source
    last: int
    norm: str  # its words (expanded), space-joined: what fuzz.ratio compares
    keys: tuple[bytes, ...]  # keys of the expanded words
    key_counts: dict[bytes, int]
    content: tuple[bool, ...]
    allowed: int  # words that may be missing or changed: one per ten


@dataclass(frozen=True, eq=False)
class Source:
    """One prepared source text: its words, their spans, its n-gram index and rule sentences."""

    words: tuple[bytes, ...]
    spans: tuple[tuple[int, int], ...]
    index: dict[tuple[bytes, ...], list[int]]
    rules: tuple[_Rule, ...]
    vocab: frozenset[bytes]  # content-word keys, for the paraphrase overlap


@lru_cache(maxsize=256)
def prepare_source(text: str, n: int, min_rule_words: int) -> Source:
    """Everything about one source that does not depend on the completion."""
    words = tuple(split_words(text))
    spans = char_spans(text)
    index: dict[tuple[bytes, ...], list[int]] = {}
    for j in range(len(words) - n + 1):
        index.setdefault(words[j : j + n], []).append(j)
    rules = []
    pos = 0
    for a, b in sentence_spans(text):
        while pos < len(spans) and spans[pos][0] < a:
            pos += 1
        first = pos
        while pos < len(spans) and spans[pos][1] <= b:
            pos += 1
        expanded, _ = expand_negations(words[first:pos])
        content = tuple(is_content_word(w) for w in expanded)
        if len(expanded) >= min_rule_words and sum(content) >= _MIN_CONTENT:
            norm = b" ".join(expanded).decode(errors="replace")
            allowed = 1 + (len(expanded) - 1) // 10
            keys = stem_keys(expanded)
            rules.append(_Rule(first, pos - 1, norm, keys, Counter(keys), content, allowed))
    vocab = frozenset(stem_keys([w for w in words if is_content_word(w) and w not in META_WORDS]))
    return Source(words, tuple(spans), index, tuple(rules), vocab)


@lru_cache(maxsize=256)
def source_grams(texts: tuple[str, ...], n: int, min_rule_words: int) -> frozenset[tuple[bytes, ...]]:
    """The word n-grams of all sources."""
    return frozenset().union(*(prepare_source(t, n, min_rule_words).index for t in texts))


@dataclass(frozen=True)
class Finding:
    """One recitation found in a completion: its word range, score, kind and what it recites."""

    start: int  # word range [start, end] in the completion
    end: int
    score: float
    kind: str  # "verbatim" or "sentence"
    what: str  # share of the source recited, or the rule


def find_recitations(
    src: Source, words: list[bytes], grams: frozenset[tuple[bytes, ...]], cfg: LeakageConfig
) -> list[Finding]:
    """Verbatim runs of `src` in `words`, then its rules lightly edited where no run covers them."""
    runs = _runs(words, grams, src)
    out = _verbatim(runs, src, words, cfg) if runs else []
    tried: set[tuple[int, int]] = set()
    for ci, sj, length in runs:
        for r, rule in enumerate(src.rules):
            p = ci - (sj - rule.first)  # where the rule would start in the completion
            if rule.first > sj + length - 1 or rule.last < sj or (r, p) in tried:
                continue
            tried.add((r, p))
            f = _match_rule(rule, words, p, cfg.sentence_threshold)
            if f is not None and not any(f.start <= g.end and g.start <= f.end for g in out):
                out.append(f)
    return out


def _runs(words: list[bytes], grams: frozenset[tuple[bytes, ...]], src: Source) -> list[tuple[int, int, int]]:
    """Every maximal run (completion word, source word, length) of n+ equal words."""
    n, m, s, index, swords = len(next(iter(grams))), len(words), len(src.words), src.index, src.words
    starts: list[tuple[int, list[int]]] = []
    if len(grams) > _FEW_GRAMS:
        starts = [(i, index[g]) for i, g in enumerate(ngrams(words, n)) if g in index]
    else:  # usually: find the few shared n-grams with bytes.find (C) instead of visiting every word
        joined = b" ".join(words)
        for gram in grams:
            js = index.get(gram)
            needle = b" ".join(gram)
            at = joined.find(needle) if js else -1
            while at >= 0:
                end = at + len(needle)
                if (at == 0 or joined[at - 1] == 32) and (end == len(joined) or joined[end] == 32):
                    starts.append((joined.count(b" ", 0, at), js))
                at = joined.find(needle, at + 1)
    runs: list[tuple[int, int, int]] = []
    reach: dict[int, int] = {}  # diagonal (i - j) -> end of the run already found on it
    for i, js in sorted(starts):
        for j in js:
            if reach.get(i - j, -1) > i:
                continue
            length = n
            while i + length < m and j + length < s and words[i + length] == swords[j + length]:
                length += 1
            reach[i - j] = i + length
            runs.append((i, j, length))
    return runs


def _verbatim(
    runs: list[tuple[int, int, int]], src: Source, words: list[bytes], cfg: LeakageConfig
) -> list[Finding]:
    """Runs, joined across small edits, that recite the source."""
    groups: list[list[tuple[int, int, int]]] = []
    for run in sorted(runs):
        # A phrase the source repeats also matches off the main diagonal; such runs start their
        # own short groups instead of cutting a recitation in two.
        for g in groups:
            ci, sj, length = g[-1]
            if 0 <= run[0] - ci - length <= _MAX_JOIN_GAP and 0 <= run[1] - sj - length <= _MAX_JOIN_GAP:
                g.append(run)
                break
        else:
            groups.append([run])
    total = src.spans[-1][1] - src.spans[0][0]
    out = []
    for g in groups:
        c0, s0 = g[0][0], g[0][1]
        c1, s1 = g[-1][0] + g[-1][2] - 1, g[-1][1] + g[-1][2] - 1
        chars = src.spans[s1][1] - src.spans[s0][0]
        whole = s0 == 0 and s1 == len(src.words) - 1
        most = total < cfg.verbatim_min_chars and chars >= _MOST_OF_SHORT * total
        if sum(r[2] for r in g) >= cfg.min_rule_words and (whole or most or chars >= cfg.verbatim_min_chars):
            recited = b" ".join(words[c0 : c1 + 1]).decode(errors="replace")
            score = fuzz.ratio(b" ".join(src.words[s0 : s1 + 1]).decode(errors="replace"), recited)
            out.append(Finding(c0, c1, score, "verbatim", f"{round(100 * chars / total)}%"))
    return sorted(out, key=lambda f: f.start - f.end)  # longest first: it wins overlaps


def _match_rule(rule: _Rule, words: list[bytes], p: int, threshold: float) -> Finding | None:
    """The rule, lightly edited, in the completion near word p; None when it is not there."""
    slack = rule.allowed + 2
    lo = max(0, p - slack)
    region, back = expand_negations(words[lo : max(lo, p + len(rule.keys) + slack)])
    region_keys = stem_keys(region)
    need = len(rule.keys) - rule.allowed
    # Cheap necessary condition before aligning: enough of the rule's words occur at all.
    present = set(region_keys)
    if sum(c for k, c in rule.key_counts.items() if k in present) < need:
        return None
    blocks = LCSseq.editops(rule.keys, region_keys).as_matching_blocks()
    pairs = [(b.a + d, b.b + d) for b in blocks for d in range(b.size)]
    if len(pairs) < need or sum(rule.content[a] for a, _ in pairs) < _MIN_CONTENT:
        return None
    x, y = pairs[0][1], pairs[-1][1]
    score = fuzz.ratio(rule.norm, b" ".join(region[x : y + 1]).decode(errors="replace"))
    if score < threshold:
        return None
    return Finding(lo + back[x], lo + back[y], score, "sentence", rule.norm)
