"""Prompt echo: the completion repeats the prompt (the last user turn), or most of it.

`echo.prompt_repeated` (block), span over the repeated region of the completion, score = the
share of the prompt's words repeated. Words are compared lower-cased, punctuation dropped, in
order; a few edited words between repeated runs are allowed (near-verbatim).

- A prompt of `long_prompt_words`+ (20) words echoes when `min_share` (80%) of its words recur in
  order in one region of the completion.
- A shorter prompt (`min_prompt_words`, 8, or more) echoes only when `short_prompt_share` (90%)
  recur and the region starts with the prompt's first word: "Name the three primary colors used
  in traditional painting" answered "The three primary colors used in traditional painting are
  ..." restates the question as a sentence, which is good style, not an echo. Prompts under 8
  words are never judged ("What is the capital of France?" -> "The capital of France is Paris.").
- Prompts that ask to rewrite, paraphrase, translate, correct, proofread, format, convert,
  refactor, fill in or repeat text, and prompts that hold code (a fence or code-shaped lines),
  are skipped (`exempt_rewrites`): their answers legitimately resemble the input.
- A persona the prompt opens with ("As a business analyst at Nuro, ...", "You are a ...") is left
  out: the answer speaking in that voice is not an echo. A long question (opening with how, what,
  why, does, ...) echoes only from its first word: its restatement as the answer's thesis drops
  the question word ("How does X affect Y?" -> "X significantly affects Y ...").

Speed: the prompt is prepared once per distinct text (cached); a completion is aligned only when
most of the prompt's longer words occur in it (substring tests on the lower-cased text).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache
from typing import ClassVar

from synthgate.schemas.chain_config import EchoConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict
from synthgate.validators.normalize import token_offsets, tokens

CODE = "echo.prompt_repeated"
_MAX_GAP = 3  # edited words allowed between two repeated runs of one region
_SCREEN_SHARE = 0.6  # share of the screening trigrams that must occur before aligning
_REWRITE = re.compile(
    r"\b(?:re-?write|rephrase|paraphrase|re-?word|restate|translate|translation|correct|proof-?read|"
    r"fix (?:the )?(?:grammar|spelling|punctuation|errors?|typos?)|grammar|spelling|edit|revise|"
    r"improve|polish|simplify|shorten|condense|format|convert|transform|refactor|reformat|repeat|"
    r"copy|fill in|complete the|capitali[sz]e|punctuate|change (?:the|this|it|each)|make (?:the|this|it) "
    r"(?:more|less|sound)|turn (?:the|this|it) into|in (?:the )?(?:passive|active) voice|"
    r"(?:past|present|future) tense|replace|insert|reverse|sort|reorder|rearrange|alphabeti[sz]e|"
    r"arrange|organi[sz]e|(?:put|place) .{0,30} in order|chronologic|remove|delete|add)\b",
    re.I,
)
_CODE_LINE = re.compile(
    r"^(?:```|~~~)|[;{}]\s*$|^\s*(?:def|class|import|return|for|if|while|function|const|let|var)\b", re.M
)


_PERSONA = re.compile(
    r"\s*(?:As an? [^,.!?\n]{1,60},|You are an? [^.!?\n]{1,80}[.!]|Act as an? [^.!?\n]{1,60}[.,])\s*"
)
# A question restated as the answer's thesis ("How does X affect Y?" -> "X significantly affects Y
# ...") drops the question word; an echo repeats the question itself.
_QUESTION_WORD = frozenset(
    b"how what why which who whom whose when where can could does do did is are was were should would "
    b"will may might".split()
)
_LEAD_OK = re.compile(r"""^[\s"'“”‘’*_>#`-]*(?:[A-Za-z][\w ]{0,20}:)?[\s"'“”‘’*_`]*$""")
_SCREEN_GRAMS = 6
# Repeated text keeps most of its characters; half the share leaves room for dropped punctuation.
_MIN_LENGTH_SHARE = 0.5
_SLICES, _SLICE = 6, 12  # raw pre-screen: six 12-character slices of the prompt


def _joined_tokens(text: str) -> bytes:
    """The words echo compares: `normalize.tokens`, space-joined (bytes: substring tests run in C)."""
    return b" ".join(tokens(text))


@lru_cache(maxsize=1024)
def _prepared(prompt: str, long_words: int) -> tuple[tuple[bytes, ...], tuple[bytes, ...], bool]:
    """(prompt words, screening trigrams, short): a short prompt's echo starts at its first words, so
    its first trigram is its screen; a long one's are a few spread trigrams."""
    norm = tuple(_joined_tokens(prompt).split())
    short = len(norm) < long_words
    starts = max(1, len(norm) - 2)
    step = max(1, starts // _SCREEN_GRAMS)
    chosen = [0] if short else list(range(0, starts, step))[:_SCREEN_GRAMS]
    return norm, tuple(b" %s " % b" ".join(norm[i : i + 3]) for i in chosen), short


@lru_cache(maxsize=1024)
def is_rewrite_prompt(prompt: str) -> bool:
    """True when the prompt asks to rewrite/translate/correct/format its text, or holds code.

    >>> is_rewrite_prompt("Correct the grammar: she go to school every days and like it.")
    True
    >>> is_rewrite_prompt("Explain why the sky is blue during the day and red at sunset.")
    False
    """
    return _REWRITE.search(prompt) is not None or len(_CODE_LINE.findall(prompt)) >= 2


class EchoValidator(Validator):
    """Fails completions that repeat their prompt, verbatim or nearly."""

    name: ClassVar[str] = "echo"

    def __init__(self, config: EchoConfig | None = None) -> None:
        self.config = config or EchoConfig()

    def check(self, sample: Sample) -> Result:
        cfg = self.config
        prompt = next((m.content for m in reversed(sample.prompt) if m.role == "user"), "")
        # The persona the user assigns ("As a business analyst at Nuro, ...") is the answer's voice
        # when repeated, not an echo: only the request after it is compared.
        persona = _PERSONA.match(prompt)
        if persona is not None:
            prompt = prompt[persona.end() :]
        if prompt.count(" ") + 1 < cfg.min_prompt_words:
            return Result(sample)  # a cheap upper bound on its words
        if len(sample.completion) < _MIN_LENGTH_SHARE * min(cfg.min_share, cfg.short_prompt_share) * len(
            prompt
        ):
            return Result(sample)  # too short to hold most of the prompt (a RAG answer to a long context)
        # Raw pre-screen: an echo holds most of a few slices of the prompt's text as they are.
        low_prompt, low_completion = prompt.lower(), sample.completion.lower()
        step = max(1, (len(low_prompt) - _SLICE) // _SLICES)
        slices = [low_prompt[i : i + _SLICE] for i in range(0, max(1, len(low_prompt) - _SLICE + 1), step)]
        if sum(sl in low_completion for sl in slices[:_SLICES]) * 2 < min(_SLICES, len(slices)):
            return Result(sample)
        pwords, screen, short = _prepared(prompt, cfg.long_prompt_words)
        if len(pwords) < cfg.min_prompt_words:
            return Result(sample)
        # An echo holds the prompt's first trigram (short prompts) or most of a few spread ones
        # verbatim: C-level substring tests before any alignment.
        low = b" %s " % _joined_tokens(sample.completion)
        if sum(g in low for g in screen) < _SCREEN_SHARE * len(screen):
            return Result(sample)
        if cfg.exempt_rewrites and is_rewrite_prompt(prompt):
            return Result(sample)
        found = self._echo(pwords, sample.completion)
        if found is None:
            return Result(sample)
        start, end, share = found
        quoted = " ".join(sample.completion[start:end].split())
        quoted = quoted if len(quoted) <= 80 else quoted[:77] + "..."
        message = f"the completion repeats {share:.0%} of the prompt: {quoted!r}"
        return Result(
            sample, [verdict(self.name, CODE, message, span=Span(start=start, end=end), score=share)]
        )

    def _echo(self, pwords: tuple[bytes, ...], completion: str) -> tuple[int, int, float] | None:
        """(start, end, share) of the completion region repeating the prompt, or None."""
        cfg = self.config
        spans = token_offsets(completion)
        cwords = tokens(completion)
        blocks = [
            b for b in SequenceMatcher(None, pwords, cwords, autojunk=False).get_matching_blocks() if b.size
        ]
        best: tuple[int, int, int, int] | None = None  # matched words, first prompt word, c start, c end
        group: list = []
        for b in [*blocks, None]:
            if b is not None and group:
                last = group[-1]
                if b.a - (last.a + last.size) <= _MAX_GAP and b.b - (last.b + last.size) <= _MAX_GAP:
                    group.append(b)
                    continue
            if group:
                matched = sum(g.size for g in group)
                if best is None or matched > best[0]:
                    best = (matched, group[0].a, group[0].b, group[-1].b + group[-1].size)
            group = [b] if b is not None else []
        if best is None:
            return None
        matched, first, c0, c1 = best
        share = matched / len(pwords)
        if len(pwords) >= cfg.long_prompt_words:
            if share < cfg.min_share or (first != 0 and pwords[0] in _QUESTION_WORD):
                return None
        elif share < cfg.short_prompt_share or first != 0:
            return None
        start = spans[c0][0]
        # An echo stands on its own: at the start of a line or sentence (after a label such as
        # "Question:" at most). "Here are the steps to cut the shape out of ..." restates the
        # instruction inside an answer sentence.
        lead_from = max(
            completion.rfind("\n", 0, start), *(completion.rfind(p, 0, start) for p in ". ? ! ".split())
        )
        if not _LEAD_OK.match(completion[lead_from + 1 : start]):
            return None
        return start, spans[c1 - 1][1], round(share, 3)
