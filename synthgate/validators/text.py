"""Shared text helpers for validators: word and sentence segmentation with character spans, and
where fenced code blocks are. (Comparison keys, exact or fuzzy, come from `normalize`.)

Hand-written rather than nltk/spaCy: validators run on every record of large datasets and
need only a cheap, deterministic, offset-preserving split; a regex does that in microseconds.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace,
# or at a newline. Abbreviation handling is deliberately absent: over-splitting only makes
# sentence-level checks stricter on shorter pieces, never silently skips text.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|\n+")
# CommonMark: a fence is 3+ backticks or tildes, indented at most 3 spaces; it closes on a line
# with the same character, at least as long, and nothing after it. Unclosed runs to the end.
_FENCE = re.compile(r"\n {0,3}(`{3,}|~{3,})([^\n]*)")


def words(text: str) -> list[str]:
    """Lower-cased words.

    >>> words("As instructed, I'll only use it.")
    ['as', 'instructed', "i'll", 'only', 'use', 'it']
    """
    return _WORD.findall(text.lower())


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """Lower-cased words with their [start, end) offsets in `text`."""
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each non-blank sentence or line, offsets into `text`.

    >>> t = "One two. Three four!\\nFive"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['One two.', 'Three four!', 'Five']
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        _append_trimmed(text, start, m.start(), spans)
        start = m.end()
    _append_trimmed(text, start, len(text), spans)
    return spans


def _append_trimmed(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        out.append((a, b))


def shingles(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    """The set of word n-grams of `tokens` (empty when there are fewer than n)."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@lru_cache(maxsize=4096)
def cached_words(text: str) -> tuple[str, ...]:
    """words(text), memoised: system prompts repeat across a dataset."""
    return tuple(words(text))


def lower_same_length(text: str) -> str:
    """`text.lower()` with every offset kept: the few characters that lower-case to two ("İ") stay.

    >>> lower_same_length("Ab İ")
    'ab İ'
    """
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def fenced_ranges(text: str) -> list[tuple[int, int]]:
    """[start, end) of each fenced code block (fence lines included); unclosed fences run to the end.

    >>> fenced_ranges("a\\n```py\\n# x\\n```\\nb")
    [(2, 15)]
    """
    if not (("`" in text and "```" in text) or ("~" in text and "~~~" in text)):
        return []
    ranges: list[tuple[int, int]] = []
    opening: re.Match[str] | None = None
    for m in _FENCE.finditer("\n" + text):
        if opening is None:
            opening = m
        elif (
            m.group(1)[0] == opening.group(1)[0]
            and len(m.group(1)) >= len(opening.group(1))
            and not m.group(2).strip()
        ):
            ranges.append((opening.start(), m.end() - 1))
            opening = None
    if opening is not None:
        ranges.append((opening.start(), len(text)))
    return ranges
