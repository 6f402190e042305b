"""System-prompt and instruction leakage: the completion recites, quotes or narrates its prompt.

The seed failure: a teacher's thinking leaked into the targets and every answer opened by reciting
the system prompt, so the student learned to parrot it. Sources are the record's system prompt and
each of `extra_texts` (configured instructions, few-shot text). Findings, each with a span into
the completion and a rapidfuzz score (0-100):

- `leak.system_prompt_verbatim` (`leak.configured_text` for extra texts): a run of the source's
  words in order (case and punctuation ignored) that is the whole source, or at least
  `verbatim_min_chars` characters of it, or 80% of a source shorter than that. The run needs at
  least `min_rule_words` words: a short prompt's few words ("Be concise and accurate") are ordinary
  prose. Runs broken by at most two edited words are joined.
- `leak.system_prompt_sentence` (`leak.configured_text`): one rule sentence of the source
  (`min_rule_words`+ words, 3+ content words) exactly or lightly edited: at most one word in ten
  missing or changed ("doesn't" is "does not"), `fuzz.ratio` of the words >= `sentence_threshold`,
  3+ content words shared. So "The provided context does not contain enough information to answer"
  under "If the context does not contain enough information, say so." (no "if", no "say so") is
  not a leak: sharing a rule's vocabulary is not reciting it.
- `leak.system_prompt_paraphrase`: a sentence narrating its instructions ("As instructed, ...",
  "Following the system prompt", "My instructions say", "I will only use the provided context")
  that also shares 2+ content words with the sources, so "take it as instructed by your doctor"
  is left alone. Off with `paraphrase: false`.

Text that also appears in the user turns (a quoted paper title) is never a leak, and a region
reported once is not reported again under another code.

Speed: sources are prepared once per distinct text (lru_cache; datasets mostly share one system
prompt). A clean record costs one lower(), one bytes translate + split and two C-level set passes:
the completion's word `shingle_words`-grams against the sources', and its words against the
narration trigger words (about 25-30 µs for 1,800 characters). A rule of 6+ words with one edited word
keeps 3 words in a row, so 3-grams never screen out a light edit. Only candidates get aligned
(rapidfuzz, on a few words around each shared n-gram); only trigger words get the narration regex,
on a window around them; character offsets are computed for findings alone.
"""

from __future__ import annotations

import itertools
import re
import string
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from synthgate.schemas.chain_config import LeakageConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict
from synthgate.validators.text import sentence_spans

_MOST_OF_SHORT = 0.8  # share of a short source's characters that counts as reciting it
_MAX_JOIN_GAP = 2  # edited words allowed between two verbatim runs joined into one region
_MIN_CONTENT = 3  # content words a rule match must share: fewer is ordinary prose
_MIN_PARAPHRASE_OVERLAP = 2
_STEM = 5  # words compare on their first 5 bytes: papers/paper, generalise/generalize
_WINDOW = 60  # characters around a narration trigger word searched with the regex
_FEW_GRAMS = 16  # up to this many shared n-grams are located by search, more by one pass

_STOPWORDS = frozenset(
    w.encode()
    for w in """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most my no nor
    not now of off on once or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself""".split()
)
# Words of the narration itself: they say nothing about which instructions are restated.
_META = frozenset(
    w.encode()
    for w in "instructed instruction instructions told asked directed required supposed guideline "
    "guidelines rule rules directive directives system prompt message".split()
)
_TRIGGERS = _META | {b"provided", b"given", b"supplied"}
# Narration of one's own instructions. Mentions of instructions or guidelines in general ("follow the
# instructions in the README", "according to the guidelines in the paper") are not narration; only
# "my ..." and "the system prompt" are, or the instructions telling "me".
_NARRATION = re.compile(
    r"""\bas\s+(?:i(?:\s+(?:was|am|have\s+been)|[’']ve\s+been|[’']m)\s+)?(?:instructed|directed|told)\b
    | \b(?:per|following|according\s+to|in\s+(?:line|accordance|keeping)\s+with|consistent\s+with
         |as\s+(?:stated|specified|required|outlined|described|set\s+out)\s+(?:in|by))\s+
      (?:(?:the|your)\s+system\s+(?:prompt|message|instructions?)
         |my\s+(?:system\s+(?:prompt|message|instructions?)|instructions?|guidelines?|rules|directives?))\b
    | \bmy\s+(?:instructions?|guidelines?|rules|directives?|system\s+(?:prompt|message))\b
    | \bthe\s+system\s+(?:prompt|message)\s+(?:says?|states?|tells?|requires?|asks?|specif(?:y|ies)
         |instructs?|directs?|wants?)\b
    | \bthe\s+(?:instructions?|guidelines?|rules)\s+
      (?:tells?|asks?|requires?|wants?|directs?|instructs?)\s+me\b
    | \bi(?:\s+(?:was|am|have\s+been)|[’']ve\s+been|[’']m)\s+(?:told|instructed|directed|asked|required
         |supposed)\s+to\b
    | \bi(?:\s+(?:will|must|should|can|may|shall|am\s+(?:only\s+)?(?:allowed|permitted)\s+to)
         |[’']ll)\s+only\s+
      (?:use|rely\s+on|answer\s+(?:from|using|based\s+on)|draw\s+on|refer\s+to|consult)\s+(?:the\s+)?
      (?:provided|given|supplied)\s+(?:context|passages?|documents?|sources?|information|text)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SPLIT = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))
_TOKEN = re.compile(rb"\S+")
# Non-ASCII spaces and punctuation, blanked byte for byte so offsets survive ("doesn’t", "models—and").
_WIDE = tuple(
    c.encode() for c in "\u00a0\u00ab\u00b7\u00bb\u2009\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u202f"
)
_CONTRACTED = {b"ca": b"can", b"wo": b"will", b"sha": b"shall"}
_TRAILING = ".!?\"')]”’"


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters lower-case to two ("İ"); keep those so offsets stay valid.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _blanked(raw: bytes) -> bytes:
    """Lower-cased UTF-8 with punctuation as spaces, byte for byte."""
    if not raw.isascii():
        for wide in _WIDE:
            raw = raw.replace(wide, b" " * len(wide))
    return raw.translate(_SPLIT)


def _words(text: str) -> list[bytes]:
    """Lower-cased words (UTF-8), split at whitespace and punctuation: what every check compares."""
    return _blanked(_lower(text).encode()).split()


def _keys(words: Sequence[bytes]) -> tuple[bytes, ...]:
    return tuple(w[:_STEM] for w in words)


def _expand(words: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
    """Words with "n't" spelled "not" (doesn't = does not), and the index each came from."""
    if b"t" not in words:
        return list(words), list(range(len(words)))
    out: list[bytes] = []
    back: list[int] = []
    for i, w in enumerate(words):
        if w == b"t" and out and out[-1].endswith(b"n"):  # "doesn't" was split as "doesn", "t"
            out[-1] = _CONTRACTED.get(out[-1][:-1], out[-1][:-1])
            w = b"not"
        out.append(w)
        back.append(i)
    return out, back


def _is_content(word: bytes) -> bool:
    return len(word) > 2 and word not in _STOPWORDS


def _char_spans(text: str, upto: int | None = None) -> list[tuple[int, int]]:
    """Character [start, end) of each of _words(text), or of the first `upto` + 1."""
    raw = _lower(text).encode()
    found = _TOKEN.finditer(_blanked(raw))
    spans = [m.span() for m in (found if upto is None else itertools.islice(found, upto + 1))]
    if len(raw) == len(text):  # ASCII: byte offsets are character offsets
        return spans
    return [(len(raw[:a].decode()), len(raw[:b].decode())) for a, b in spans]


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
class _Source:
    words: tuple[bytes, ...]
    spans: tuple[tuple[int, int], ...]
    index: dict[tuple[bytes, ...], list[int]]
    rules: tuple[_Rule, ...]
    vocab: frozenset[bytes]  # content-word keys, for the paraphrase overlap


@lru_cache(maxsize=256)
def _prepare(text: str, n: int, min_rule_words: int) -> _Source:
    """Everything about one source that does not depend on the completion."""
    words = tuple(_words(text))
    spans = _char_spans(text)
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
        expanded, _ = _expand(words[first:pos])
        content = tuple(_is_content(w) for w in expanded)
        if len(expanded) >= min_rule_words and sum(content) >= _MIN_CONTENT:
            norm = b" ".join(expanded).decode(errors="replace")
            allowed = 1 + (len(expanded) - 1) // 10
            keys = _keys(expanded)
            rules.append(_Rule(first, pos - 1, norm, keys, Counter(keys), content, allowed))
    vocab = frozenset(_keys([w for w in words if _is_content(w) and w not in _META]))
    return _Source(words, tuple(spans), index, tuple(rules), vocab)


@lru_cache(maxsize=256)
def _screen(texts: tuple[str, ...], n: int, min_rule_words: int) -> frozenset[tuple[bytes, ...]]:
    """The word n-grams of all sources."""
    return frozenset().union(*(_prepare(t, n, min_rule_words).index for t in texts))


def _grams(words: Sequence[bytes], n: int) -> Iterator[tuple[bytes, ...]]:
    return zip(*(words[k:] for k in range(n)), strict=False)


@dataclass(frozen=True)
class _Finding:
    start: int  # word range [start, end] in the completion
    end: int
    score: float
    kind: str  # "verbatim" or "sentence"
    what: str  # share of the source recited, or the rule


class LeakageValidator(Validator):
    """Fails completions that recite, quote or narrate the system prompt or configured texts."""

    name: ClassVar[str] = "leakage"

    def __init__(self, config: LeakageConfig = LeakageConfig()) -> None:  # noqa: B008 (frozen model)
        self.config = config
        self._extras = tuple(t for t in config.extra_texts if t.strip())

    def check(self, sample: Sample) -> Result:
        """Every leaked region of the completion, each with a span and a score; never repairs."""
        texts = ((sample.system_prompt,) if sample.system_prompt else ()) + self._extras
        if not texts:
            return Result(sample)
        cfg = self.config
        words = _words(sample.completion)
        grams = _screen(texts, cfg.shingle_words, cfg.min_rule_words).intersection(
            _grams(words, cfg.shingle_words)
        )
        narrated = cfg.paraphrase and not _TRIGGERS.isdisjoint(words)
        if not (grams or narrated):
            return Result(sample)
        return Result(sample, self._verdicts(sample, texts, words, grams, narrated))

    def _verdicts(
        self,
        sample: Sample,
        texts: tuple[str, ...],
        words: list[bytes],
        grams: frozenset[tuple[bytes, ...]],
        narrated: bool,
    ) -> list[Verdict]:
        cfg = self.config
        sources = [_prepare(t, cfg.shingle_words, cfg.min_rule_words) for t in texts]
        first_extra = len(texts) - len(self._extras)
        user: bytes | None = None
        found: list[tuple[_Finding, int]] = []
        for k, src in enumerate(sources if grams else []):
            for f in _findings(src, words, grams, cfg):
                if any(f.start <= g.end and g.start <= f.end for g, _ in found):
                    continue
                if user is None:  # quoting the user's own text is no leak
                    turns = "\n".join(m.content for m in sample.prompt if m.role == "user")
                    user = b" %s " % b" ".join(_words(turns))
                if b" %s " % b" ".join(words[f.start : f.end + 1]) not in user:
                    found.append((f, k))
        out: list[Verdict] = []
        if found:
            spans = _char_spans(sample.completion, upto=max(f.end for f, _ in found))
            for f, k in found:
                extra = None if k < first_extra else k - first_extra
                out.append(self._verdict(sample.completion, spans, f, extra))
        if narrated:
            taken = [(v.span.start, v.span.end) for v in out if v.span]
            out += _paraphrases(sample.completion, words, sources, taken)
        return sorted(out, key=lambda v: v.span.start if v.span else 0)

    def _verdict(
        self, completion: str, spans: list[tuple[int, int]], f: _Finding, extra: int | None
    ) -> Verdict:
        """`extra`: which configured text leaked (0-based); None for the system prompt."""
        start, end = spans[f.start][0], _extend(completion, spans[f.end][1])
        quoted = _snippet(completion[start:end])
        source = "the system prompt" if extra is None else f"configured text #{extra + 1}"
        if f.kind == "verbatim":
            message = f"the completion repeats {f.what} of {source} verbatim: {quoted}"
            code = "leak.system_prompt_verbatim"
        else:
            message = f"the completion repeats a rule of {source} ({_snippet(f.what)}): {quoted}"
            code = "leak.system_prompt_sentence"
        if extra is not None:
            code = "leak.configured_text"
        return verdict(self.name, code, message, span=Span(start=start, end=end), score=round(f.score, 1))


def _findings(
    src: _Source, words: list[bytes], grams: frozenset[tuple[bytes, ...]], cfg: LeakageConfig
) -> list[_Finding]:
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


def _runs(
    words: list[bytes], grams: frozenset[tuple[bytes, ...]], src: _Source
) -> list[tuple[int, int, int]]:
    """Every maximal run (completion word, source word, length) of n+ equal words."""
    n, m, s, index, swords = len(next(iter(grams))), len(words), len(src.words), src.index, src.words
    starts: list[tuple[int, list[int]]] = []
    if len(grams) > _FEW_GRAMS:
        starts = [(i, index[g]) for i, g in enumerate(_grams(words, n)) if g in index]
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
    runs: list[tuple[int, int, int]], src: _Source, words: list[bytes], cfg: LeakageConfig
) -> list[_Finding]:
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
            out.append(_Finding(c0, c1, score, "verbatim", f"{round(100 * chars / total)}%"))
    return sorted(out, key=lambda f: f.start - f.end)  # longest first: it wins overlaps


def _match_rule(rule: _Rule, words: list[bytes], p: int, threshold: float) -> _Finding | None:
    """The rule, lightly edited, in the completion near word p; None when it is not there."""
    slack = rule.allowed + 2
    lo = max(0, p - slack)
    region, back = _expand(words[lo : max(lo, p + len(rule.keys) + slack)])
    region_keys = _keys(region)
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
    return _Finding(lo + back[x], lo + back[y], score, "sentence", rule.norm)


def _paraphrases(
    completion: str, words: list[bytes], sources: list[_Source], taken: list[tuple[int, int]]
) -> list[Verdict]:
    """Sentences that narrate their instructions and share their vocabulary."""
    low = _lower(completion)
    starts: set[int] = set()
    for trigger in _TRIGGERS.intersection(words):
        at = low.find(trigger.decode())
        while at >= 0:
            window = max(0, at - _WINDOW), at + _WINDOW
            starts.update(m.start() for m in _NARRATION.finditer(completion, *window))
            at = low.find(trigger.decode(), at + 1)
    vocab = frozenset().union(*(s.vocab for s in sources))
    rules = [r.norm for s in sources for r in s.rules]
    out: list[Verdict] = []
    for at in sorted(starts):
        a, b = _sentence_around(completion, at)
        if any(a < y and x < b for x, y in taken):
            continue
        sentence = _words(completion[a:b])
        if len(vocab.intersection(_keys(sentence))) < _MIN_PARAPHRASE_OVERLAP:
            continue
        norm = b" ".join(sentence).decode(errors="replace")
        score = max((fuzz.token_set_ratio(norm, r) for r in rules), default=0.0)
        taken.append((a, b))
        phrase = _NARRATION.match(completion, at)
        said = f"{phrase.group() if phrase else ''!r}): {_snippet(completion[a:b])}"
        message = f"the completion narrates its instructions ({said}"
        code = "leak.system_prompt_paraphrase"
        out.append(
            verdict(LeakageValidator.name, code, message, span=Span(start=a, end=b), score=round(score, 1))
        )
    return out


def _sentence_around(text: str, at: int) -> tuple[int, int]:
    """The sentence holding character `at` (searched within a few hundred characters)."""
    lo = max(0, at - 400)
    for a, b in sentence_spans(text[lo : at + 400]):
        if a + lo <= at < b + lo:
            return a + lo, b + lo
    return at, at + 1


def _extend(text: str, end: int) -> int:
    """Include the punctuation that closes the leaked sentence."""
    while end < len(text) and text[end] in _TRAILING:
        end += 1
    return end


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
