"""Refusal detection: does a completion open by declining to answer?

A declining opening followed by "However, ..." and 40+ words of answer is a hedge, not a refusal
("As an AI, I cannot say for certain. However, it is a common belief that ..."), unless the
"however" sends the user elsewhere ("However, you can try searching online"). "Sorry, but" declines
only with a first-person or refusal subject after it ("I'm sorry, but there has been no news"
answers).

Shared by the set-level refusal share, preference pairs (a refused chosen side) and the eval's
refusal accuracy, so one definition of "refusal" serves the audit, the gate and the eval.
"""

from __future__ import annotations

import re

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
        ("provided", "given", "available"),
        re.compile(
            r"(?:information|details|data) (?:provided|given|available)(?: here| above)? (?:does|do)"
            + _NOT
            + r"(?:include|contain|mention|say|specify|cover|address)"
        ),
    ),
    (
        ("i can", "unable", "i am not", "i'm not", "i’m not"),
        re.compile(
            r"\bi (?:cannot|can['’]t|can not|am unable to|['’]m unable to|am not able to|['’]m not able to)"
            r" (?:answer|provide|determine|find|help|say|tell|confirm)"
        ),
    ),
    # "Sorry, but I can't ..." declines; "I'm sorry, but there has been no news" answers.
    (
        ("sorry",),
        re.compile(r"sorry,? but (?:i\b|i['’]m\b|as an?\b|we\b|that\b|this\b|it(?:['’]s| is) not\b)"),
    ),
    # Llama-2 chat's formula: "However, I must inform you that implementing X is not a feasible or
    # safe task", "... that it is not possible to create ...": the task declined as impossible.
    (
        ("must",),
        re.compile(
            r"\bi must (?:inform you|point out|advise you|respectfully point out|let you know) that"
            r"[^.!?]{0,120}?\b(?:is|are|would be) not (?:a |an )?(?:possible|feasible)\b"
        ),
    ),
    (("there",), re.compile(r"there (?:is|['’]s) no (?:information|mention|data|details)")),
    (
        ("know", "info"),
        re.compile(r"\bi (?:do not|don['’]t) (?:know|have (?:enough |sufficient |any )?info)"),
    ),
)
# A refusal declines in its opening; a caveat late in a full answer is not a refusal.
_REFUSAL_WINDOW = 300


def is_refusal(text: str) -> bool:
    """True when the text opens by declining to answer.

    >>> is_refusal("The provided context does not contain enough information to answer.")
    True
    >>> is_refusal("I'm sorry, but I can't help with that.")
    True
    >>> is_refusal("Unfortunately, the information provided does not include the release date.")
    True
    >>> is_refusal("The warranty covers two years; shipping is not included.")
    False
    """
    low = text[:_REFUSAL_WINDOW].lower()
    for gates, pattern in _REFUSALS:
        for gate in gates:
            if gate in low:
                m = pattern.search(low)
                if m:
                    return not _hedged(text, m.end())
                break
    return False


# "As an AI, I cannot say for certain. However, it is a common belief that ... [the answer]": a
# hedge before the answer. "However, you can try searching online" sends the user elsewhere.
_TURN = re.compile(r"\s*(?:however|but|that said|that being said),?\s+", re.IGNORECASE)
_REDIRECT = re.compile(
    r"(?:you\b|please\b|try\b|consider\b|i (?:would |can )?(?:suggest|recommend|encourage|advise)\b"
    r"|i['’]d (?:suggest|recommend)\b|i (?:am|['’]m) (?:available|happy|here) to\b"
    r"|i can (?:help|assist) (?:you )?with (?:any )?other|it (?:is|['’]s) (?:best|advisable|recommended)\b)",
    re.IGNORECASE,
)
_HEDGED_ANSWER_WORDS = 40


def _hedged(text: str, pos: int) -> bool:
    """The declining sentence is followed by "However, ..." and an answer of 40+ words."""
    end = pos
    while end < len(text) and not (text[end] in ".!?" and (end + 1 == len(text) or text[end + 1].isspace())):
        end += 1
    turn = _TURN.match(text, end + 1)
    if turn is None or _REDIRECT.match(text, turn.end()):
        return False
    return len(text[turn.end() :].split()) >= _HEDGED_ANSWER_WORDS
