"""Narrated instructions in other words: a first-person sentence that restates two or more rules of
the system prompt ("My answer uses only the given passages and names the source of every point.").

The phrase list in leakage.py catches narration that names the instructions ("As instructed",
"my guidelines"); this catches narration by content. A sentence is a narration when

- it speaks of the answer's own conduct: first person ("I", "my") with a commitment ("will",
  "'ll", "must", "only", "solely", "stick to", "keep", "avoid", "my answer"), or an explicit marker
  ("per the instructions", "as required", "following the guidelines", "my brief", "I'm meant
  to", "to follow the rules"; a sentence may open with one without a subject: "Sticking to the
  provided documents as required, ...");
- and it restates two or more distinct rule sentences of the prompt: shares at least two content
  words with each (one each after an explicit marker). Words compare on light stems
  (naming = name, sources = source, speculating = speculate).

So a refusal sharing one rule's words ("I don't have enough information in the context to
answer that" under "If the context does not contain enough information, say so") is not a
narration: it restates one rule, by doing what it says. Nor is an answer in the third person
citing its sources ("According to the passage from the 2019 report, ...").

Speed: nothing runs unless the completion has a first-person word or a marker word; then only
sentences holding one are stemmed, and only rules' stems are compared (sets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from synthgate.validators.leakage.words import content_words, split_words
from synthgate.validators.text import sentence_spans

_SUFFIXES = (b"ing", b"ed", b"es", b"ly", b"s", b"e")
# First-person words, and marker words that open a subjectless narration ("Sticking to ...").
GATE_WORDS = frozenset(
    b"i my me myself sticking keeping staying following instructed instructions guidelines rules brief "
    b"required directed".split()
)
_FIRST_PERSON = frozenset({b"i", b"my", b"me", b"myself"})
_EXPLICIT = re.compile(
    r"\b(?:instruct\w*|guidelines?|rules?|my brief|directions?|system prompt|as (?:required|directed|asked)"
    r"|(?:told|supposed|meant|asked|required|expected) to|per (?:the|my)|following (?:the|my)|"
    r"in line with|keeping to|sticking to|to follow)\b",
    re.I,
)
_COMMITMENT = re.compile(
    r"\b(?:I (?:will|shall|must|should|am going to|always|never|only|keep|stick|rely|use|avoid|stay|"
    r"limit|restrict|answer|give|cite|quote|name|write)|I['’](?:ll|m (?:only|sticking|keeping|staying|"
    r"limiting|going to|not))|my (?:answer|response|reply|explanation)s?\b|only|solely|strictly|"
    r"exclusively|won['’]t|will not)\b",
    re.I,
)
_SUBJECTLESS = re.compile(
    r"^\W*(?:sticking|keeping|staying|following|as (?:required|instructed|directed))\b", re.I
)


@dataclass(frozen=True)
class RuleStems:
    """One rule sentence of a source, as the set of its content-word stems."""

    text: str
    stems: frozenset[bytes]


def stem(word: bytes) -> bytes:
    """A light stem: one common suffix off, then the first five bytes.

    >>> [stem(w) for w in (b"naming", b"name", b"sources", b"source", b"speculating")]
    [b'nam', b'nam', b'sourc', b'sourc', b'specu']
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:5]


@lru_cache(maxsize=256)
def rule_stems(source: str) -> tuple[RuleStems, ...]:
    """The rule sentences of a source with two or more content words, each as stems."""
    out = []
    for a, b in sentence_spans(source):
        stems = frozenset(stem(w) for w in content_words(source[a:b]))
        if len(stems) >= 2:
            out.append(RuleStems(source[a:b], stems))
    return tuple(out)


def narrations(completion: str, sources: tuple[str, ...]) -> list[tuple[int, int, list[str]]]:
    """(start, end, rules restated) of each sentence narrating 2+ rules of the sources."""
    rules = [r for s in sources for r in rule_stems(s)]
    if len(rules) < 2:
        return []
    out = []
    for a, b in sentence_spans(completion):
        sentence = completion[a:b]
        ws = split_words(sentence)
        if GATE_WORDS.isdisjoint(ws):
            continue
        explicit = _EXPLICIT.search(sentence) is not None
        first_person = not _FIRST_PERSON.isdisjoint(ws)
        if not (
            (first_person and (explicit or _COMMITMENT.search(sentence))) or _SUBJECTLESS.match(sentence)
        ):
            continue
        stems = {stem(w) for w in content_words(sentence)}
        need = 1 if explicit or _SUBJECTLESS.match(sentence) else 2
        hit = [r.text for r in rules if len(r.stems.intersection(stems)) >= min(need, len(r.stems))]
        if len(hit) >= 2:
            out.append((a, b, hit))
    return out
