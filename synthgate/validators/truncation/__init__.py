"""Truncated completions when the file has no `finish_reason`: the text itself shows the cut.

`length.truncated_completion` (block), span from where the unfinished part starts to the end:

- an unclosed code block: an odd number of ``` (or ~~~) fence lines; the span starts at the
  fence that never closes.
- a last line that stops on a word that cannot end a sentence ("... the importance of", "and",
  "the", "which") or on `,` `:` `;` `(` `-`: nothing can follow but more text.
- a last line of prose that stops without closing punctuation ("... your body", "... it may need
  to be re") in a completion that punctuates its other sentences. Prose here means 5+ words, in a
  text that is not verse (most lines unpunctuated), with no code-ish characters (`=`, `{`, `;`,
  `<`, indentation).

A script is not prose: a completion opening with a shebang (`#!/bin/bash`) is judged only by its
fences, and a last sentence with a command-line option (` -print`, ` --force`) or a shell variable
(`$a`, `$(...)`, `${x}`) is code ("find . -name x -print" closes no sentence, "echo $a" does not
stop on the article "a").

Never flagged: endings that are complete by their shape: list items, table rows, headings, a
final URL, hashtags, a number or short answer ("Paris", "42", "#### 18"), math closing `$$`,
JSON or code closing `}`/`]`/`)`, closing quotes and parentheses, emoji, markdown emphasis, a
signature ("Best regards,\\nJohn Smith", or on the last line: "... Yours sincerely, Jane Austen"),
a result line `Label: value` of up to 6 words ("Your sister: 4 years old"), a capital letter or
function word that opens no sentence ("Answer: A", "Correct option A": an option letter, not a cut
article), items numbered inside one line ("1. Russia 2. Canada 3. China"), and short completions
(fewer than 5 words). A record
whose `finish_reason` is known is judged by it instead: `stop` is trusted, `length` is
`loop.finish_reason_length`.

The other sign of a generation cap, a completion token count sitting exactly at a round cap that
many records share, needs the whole set: see `synthgate.validators.truncation.caps`.
"""

from __future__ import annotations

import re
from typing import ClassVar

from synthgate.schemas.chain_config import TruncationConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict

CODE = "length.truncated_completion"
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.M)
_DANGLING = frozenset(
    """the a an and or but nor of to with for in on at by from as that which who whose whom is are was
    were be been being has have had will would can could should may might must shall into onto than
    their its our your my his her this these those such if because while when where whether although
    though since unless until also very more most not so""".split()
)
_OPEN_PUNCT = ",:;(-–—"
_END_OK = re.compile(r"""[.!?…。！？][\s"'”’»)\]*_~`]{0,6}$""")
_LIST = re.compile(r"^\s*(?:[-*•+>]|\d+[.)]|[a-zA-Z][.)]|#+)\s")
_URL = re.compile(r"(?:https?://|www\.)\S+$|\b[\w-]+\.(?:com|org|net|io|edu|gov|ai|dev)(?:/\S*)?$", re.I)
# Hashtags ("#PuppyLove") and a quote's attribution ("— C.S. Lewis") end a text by shape.
_TAIL_OK = re.compile(r"(?:^|\s)#\w+$|\s[-—–]\s*[A-Z][\w.]*(?:\s+[A-Z][\w.]*){0,3}$")
# A letter signed on its last line: "... Yours sincerely, Jane Austen", "With respect and hope, Your AI".
_SIGN_OFF = re.compile(
    r"(?:^|(?<=[.!?\n]))\s*(?i:(?:yours|sincerely|regards|respectfully|faithfully|cordially|cheers|"
    r"warmly|best wishes|love|"
    r"with (?:love|respect|gratitude|hope|thanks|warm|kind|best|deep|sincere|affection)))[^,.!?\n]{0,30},"
    r"\s+\S+(?:\s+\S+){0,3}$"
)
# A result line "Label: value" ("Your sister: 4 years old", "Total: 12 apples"): an answer's last
# line by shape, as in a list of results.
_RESULT_LINE = re.compile(r"^\s*[^\s:.!?]+(?:\s+[^\s:.!?]+){0,3}:\s+[^:.!?]+$")
_RESULT_MAX_WORDS = 6
_CODEISH = re.compile(r"[=;{}<>\[\]|\\]|^(?: {2,}|\t)")
# A command in the last sentence: an option (" -print", " --force") or a shell variable ("$a", "$(").
_COMMAND = re.compile(r"(?<!\S)--?[A-Za-z]|\$[A-Za-z_({]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?$")
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]]*)\s")
# Items numbered inside one line ("1. Russia 2. Canada 3. China"): the period ends no sentence.
_INLINE_ENUM = re.compile(r"(?<!\S)\d{1,2}[.)](?=\s)")
_MIN_PROSE_WORDS = 5
_TAIL = 80


def truncation_sign(text: str) -> tuple[int, str] | None:
    """(where the unfinished part starts, what shows it), or None when the ending is complete.

    >>> truncation_sign("Intro.\\n```python\\nprint(1)\\n")
    (7, 'an unclosed code block')
    >>> truncation_sign("It serves as a reminder of the importance of")[1]
    "the last sentence stops on 'of'"
    >>> truncation_sign("1. Tokyo\\n2. Beijing\\n3. Manila") is None
    True
    """
    body = text.rstrip()
    if not body:
        return None
    fences = [m.start() for m in _FENCE.finditer(body)] if "```" in body or "~~~" in body else []
    if len(fences) % 2 == 1:
        return fences[-1], "an unclosed code block"
    if body.startswith("#!"):
        return None  # a script: its last line is a command, not a sentence
    line_start = body.rfind("\n") + 1
    line = body[line_start:]
    stripped = line.strip()
    tail = stripped[-_TAIL:]  # end-anchored patterns only need the end: O(1) per record
    if _END_OK.search(tail):
        return None  # the common case: the last sentence closes
    if body.count(" ", 0, 200) + 1 < _MIN_PROSE_WORDS and len(body.split()) < _MIN_PROSE_WORDS:
        return None
    if _URL.search(tail) or _TAIL_OK.search(tail):
        return None
    # A signed letter or a "Label: value" result line ends there, unless on a word that cannot.
    if stripped.split()[-1].lower() not in _DANGLING and (
        _SIGN_OFF.search(tail)
        or (_RESULT_LINE.match(stripped) and len(stripped.split(":", 1)[1].split()) <= _RESULT_MAX_WORDS)
    ):
        return None
    item = _LIST.match(line)
    if item and not _SENTENCE_END.search(_INLINE_ENUM.sub(" ", line[item.end() :])):
        return None  # a list item or heading; one that holds sentences is judged as prose
    if _CODEISH.search(line) or (fences and fences[-1] > line_start):
        return None
    start = _sentence_start(body, line_start)
    if _COMMAND.search(body, start):
        return None
    last = stripped[-1]
    if last in _OPEN_PUNCT:
        return start, f"the last sentence stops on {last!r}"
    word = _WORD.search(tail)
    if word is None:
        return None  # a number, symbol, emoji, closing bracket or quote: complete by shape
    if word.group().lower() in _DANGLING and " " in stripped and not _label_word(stripped, word.group()):
        return start, f"the last sentence stops on {word.group()!r}"
    if len(line.split()) >= _MIN_PROSE_WORDS and _punctuates(body) and not _is_verse(body):
        return start, "the last sentence has no closing punctuation"
    return None


def _label_word(line: str, word: str) -> bool:
    """A capitalized function word that does not open a sentence is a label, not a cut article:
    an option letter ("Answer: A", "Correct option A"), a grade, a variable, reversed words ("...
    quick The"). Prose is cut after a lowercase "a"/"the"; a capital one only opens a sentence."""
    if not word[0].isupper():
        return False
    before = line[: len(line) - len(word)].rstrip()
    return bool(before) and before[-1] not in ".!?…"


def _sentence_start(body: str, line_start: int) -> int:
    """Start of the last sentence of the last line."""
    start = line_start
    for m in _SENTENCE_END.finditer(body, line_start):
        start = m.end()
    return start


def _punctuates(text: str) -> bool:
    """The writer closes sentences: some sentence before the last one ends with . ! or ?"""
    return _SENTENCE_END.search(text) is not None


def _is_verse(body: str) -> bool:
    """Most lines end without punctuation: a poem, lyrics or a list of items, not cut prose."""
    lines = [ln.rstrip() for ln in body.split("\n")[:-1] if ln.strip()]
    if len(lines) < 3:
        return False
    open_lines = sum(1 for ln in lines if ln[-1].isalnum())
    return open_lines * 2 > len(lines)


class TruncationValidator(Validator):
    """Fails completions whose ending shows they were cut by a generation limit."""

    name: ClassVar[str] = "truncation"

    def __init__(self, config: TruncationConfig | None = None) -> None:
        self.config = config or TruncationConfig()

    def check(self, sample: Sample) -> Result:
        if not self.config.text_signs or sample.metadata.finish_reason is not None:
            return Result(sample)
        found = truncation_sign(sample.completion)
        if found is None:
            return Result(sample)
        start, what = found
        end = len(sample.completion.rstrip())
        tail = " ".join(sample.completion[max(start, end - 60) : end].split())
        message = (
            f"the completion looks cut off: {what} (...{tail!r}); regenerate it with a higher token limit"
        )
        return Result(sample, [verdict(self.name, CODE, message, span=Span(start=start, end=end))])
