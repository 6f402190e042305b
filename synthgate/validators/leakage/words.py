"""How leakage compares text: lower-cased UTF-8 words split at whitespace and punctuation, their
stemmed keys, and the character offsets of each word.

Bytes rather than str: one translate and one split in C is all a clean record costs. Punctuation,
ASCII or not, is blanked byte for byte, so word offsets map back to the completion for spans.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator, Sequence

from synthgate.validators.text import lower_same_length

_STEM = 5  # words compare on their first 5 bytes: papers/paper, generalise/generalize

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
META_WORDS = frozenset(
    w.encode()
    for w in "instructed instruction instructions told asked directed required supposed guideline "
    "guidelines rule rules directive directives system prompt message".split()
)
_SPLIT = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))
_TOKEN = re.compile(rb"\S+")
# Non-ASCII spaces and punctuation, blanked byte for byte so offsets survive ("doesn’t", "models—and").
_WIDE = tuple(
    c.encode() for c in "\u00a0\u00ab\u00b7\u00bb\u2009\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u202f"
)
_CONTRACTED = {b"ca": b"can", b"wo": b"will", b"sha": b"shall"}


def _blanked(raw: bytes) -> bytes:
    """Lower-cased UTF-8 with punctuation as spaces, byte for byte."""
    if not raw.isascii():
        for wide in _WIDE:
            raw = raw.replace(wide, b" " * len(wide))
    return raw.translate(_SPLIT)


def split_words(text: str) -> list[bytes]:
    """Lower-cased words (UTF-8), split at whitespace and punctuation: what every check compares."""
    return _blanked(lower_same_length(text).encode()).split()


def stem_keys(words: Sequence[bytes]) -> tuple[bytes, ...]:
    """Each word's first bytes: the key two spellings of one word share (papers/paper)."""
    return tuple(w[:_STEM] for w in words)


def expand_negations(words: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
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


def is_content_word(word: bytes) -> bool:
    """A word that carries content: longer than two bytes and not a stopword."""
    return len(word) > 2 and word not in _STOPWORDS


def char_spans(text: str, upto: int | None = None) -> list[tuple[int, int]]:
    """Character [start, end) of each of split_words(text), or of the first `upto` + 1."""
    raw = lower_same_length(text).encode()
    found = _TOKEN.finditer(_blanked(raw))
    spans = [m.span() for m in (found if upto is None else itertools.islice(found, upto + 1))]
    if len(raw) == len(text):  # ASCII: byte offsets are character offsets
        return spans
    return [(len(raw[:a].decode()), len(raw[:b].decode())) for a, b in spans]


def ngrams(words: Sequence[bytes], n: int) -> Iterator[tuple[bytes, ...]]:
    """The consecutive `n`-word tuples of `words`."""
    return zip(*(words[k:] for k in range(n)), strict=False)


def content_words(text: str) -> list[bytes]:
    """The words of `text` that carry content: not stopwords, not words naming instructions.

    >>> content_words("Name the source of each point, as instructed.")
    [b'name', b'source', b'point']
    """
    return [w for w in split_words(text) if is_content_word(w) and w not in META_WORDS]
