"""Q/A label grammar for `loop.extra_qa_pair`: where "Question:" / "A1)" / "### Q" labels are, and
whether one sits where an invented pair would start.

Kept apart from the repeat checks because it has its own small language (numbers, markdown
markup, terminators) that the rest of looping never needs.
"""

from __future__ import annotations

import re

# Q/A labels, matched on the lower-cased text. A label is "question"/"q" ("answer"/"a") with an
# optional number, then ":" (or "." / ")" after a number: "Question 2.", "A1)"; a bare "Q." too),
# or markdown header/bold markup before it ("### Question", "**Q1**"); see `labels`. `QUICK_LABEL`
# is a cheap necessary condition for a question label; it starts with a literal, so re scans for
# it in C. Answer labels are only looked for once an invented question was found.
QUICK_LABEL = re.compile(r"q(?:uestion|[ \t]*#?\d{1,3}|[ \t]*(?:\*\*|__)?[ \t]*[:.)])")
QUESTION_LABEL = re.compile(r"(q(?:uestion)?)(?![a-z])(?:[ \t]*#?(\d{1,3}))?[ \t]*(?:\*\*|__)?[ \t]*([:.)])?")
ANSWER_LABEL = re.compile(
    r"(?<![a-z0-9])(answer|a)(?![a-z])(?:[ \t]*#?(\d{1,3}))?[ \t]*(?:\*\*|__)?[ \t]*([:.)])?"
)
_MARKUP_CHARS = " \t*_#>-"
_SENTENCE_END_CHARS = ".!?:;)]\"'\u201d\u2019"
_HAS_WORD = re.compile(r"[^\W_]")
QUESTION_TEXT = re.compile(r"[^?\n]*\??")


def labels(low: str, pattern: re.Pattern[str], pos: int = 0) -> list[tuple[int, int]]:
    """[start, end) of each Q (or A) label from `pos` on; start includes markup ("### ", "**")."""
    labels = []
    for m in pattern.finditer(low, pos):
        a = m.start()
        if a and low[a - 1].isalnum():
            continue  # inside a word: "faq:", "iraq."
        word, number, term = m.groups()
        j = a
        while j > 0 and low[j - 1] in " \t":
            j -= 1
        markup = low[j - 1 : j] == "#" or low[max(0, j - 2) : j] in ("**", "__")
        if term == ":" or (term and (number or word == "q")) or markup:
            while j > 0 and low[j - 1] in _MARKUP_CHARS and low[j - 1] not in " \t-":
                j -= 1
            labels.append((j if markup else a, m.end()))
    return labels


def at_boundary(low: str, pos: int) -> bool:
    """`pos` starts the text or a line, or follows a sentence end (markdown markup skipped)."""
    j = pos
    while j > 0 and low[j - 1] in _MARKUP_CHARS:
        j -= 1
    return j == 0 or low[j - 1] == "\n" or low[j - 1] in _SENTENCE_END_CHARS


def answer_before(low: str, pos: int) -> bool:
    """Answer text precedes `pos`; an "Answer:" label opening the completion is not content."""
    lead = len(low) - len(low.lstrip(_MARKUP_CHARS + "\n"))
    opening = labels(low[:pos], ANSWER_LABEL, lead)
    start = opening[0][1] if opening and opening[0][0] <= lead else 0
    return bool(_HAS_WORD.search(low, start, pos))
