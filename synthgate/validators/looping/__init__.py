"""Looping and degeneration: invented Q/A pairs, repeats, trailing loops, length stops.

One verdict per code, each with the FIRST place it occurs:
- `loop.extra_qa_pair`: question labels the model invented after its answer ("Question: ...
  Answer: ...", "Q: / A:", "Q1:", "Question 2.", "### Question", "**Question:**") at the start of a
  line or after a sentence end. Span: from the first invented label to the end of the paragraph
  holding the last Q/A label. Not invented: a label opening the completion (it restates the
  question), a label whose question quotes the user's turn, the word "question" in prose, a bare
  "q:" / "q." asking nothing before the line ends (a variable named q), and every label when the
  user asked for Q/A-shaped text (jokes, riddles, a quiz, an FAQ, an interview, a questionnaire or
  survey, questions) or the prompt is itself
  a labelled dialogue ("M: ..."). A completion starting with "Answer:" has no question label at
  all. `allow_qa_pairs` turns this off.
- `loop.repeated_sentence` / `loop.repeated_line`: a sentence (or line) of 3+ words appears more
  than `max_sentence_repeats` (`max_line_repeats`) times, compared lower-cased, words only. Span:
  the first occurrence beyond the allowed count (the 3rd of a sentence allowed twice). A unit with
  no sentence end (a field "Accommodation: ...", a list entry, an equation, a lead-in "we get")
  repeated among different content is structure: no two occurrences are neighbours and the unit
  before (or after) each is different every time. So is a unit restated after 40+ words of other
  content each time, when those stretches are no copies of each other (a derivation retried).
- `loop.repeated_ngram`: a word `ngram_words`-gram appears more than `max_ngram_repeats` times.
  Span: its first occurrence beyond the allowed count. Not counted: n-grams of numbers only (an
  array literal), holding `=` or inside equation lines (an equation restated while solving it),
  cells of different table rows (`2011 | 1:00 PM | ...`), a phrase restated 40+ words apart with
  no copied stretch between, or quoting the user's turn.
- Songs: when the user asks for a song, lyrics or a rap, or the text labels a chorus, refrain or
  hook, repeated lines, sentences and n-grams are the refrain, as long as half the lines are
  distinct (fragment loops are still checked). A sentence repeated at the end of different list
  items ("Repeat for 10 reps.") among different neighbours is a per-item refrain; table rows are
  not split into sentences at "vs." or "No.". A prompt that numbers its own questions
  ("Question1: ...") is answered per label: no invented Q/A pair.
- `loop.fragment_loop`: the text ends in a unit of 1-12 words repeated at least
  `fragment_min_repeats` times in a row (a one-word unit, "ha ha ha ...", needs twice that), or in
  a 1-4 character unit repeated 8+ times ("!!!!!!!!", "hahahaha"; not digits), or holds anywhere a
  run of 200+ of one letter or digit ("0000...", then an invented new turn). Table cells and
  borders (`|  |  |  |`, `-----`) are not fragments. Span: the loop.
- `loop.finish_reason_length`: generation stopped at the token limit (no span).

Code is left out of the Q/A, sentence, line and n-gram checks: fenced blocks and unfenced lines
that start with a tag or end in `;` `{` `}` `>` (HTML, CSS, C-like code), assignments, bare calls
and keyword lines (Python, Swift, JS; see `looping.views.CODE_LINE`). Code repeats lines
(`}`, `return x`, `font-family: Arial;`) and shows prompt templates legitimately. Loops at the end of
code are still fragment loops. A repeat lying in text a higher-ranked finding already explains
(fragment loop > repeated line > repeated sentence > n-gram; a repeated line explains every
occurrence of itself) is not reported again: one looping paragraph is one `loop.repeated_line`.

Words here are lower-cased runs of characters that are neither whitespace nor punctuation or
symbols (so "QLo." and "qlo" are one word, "don't" is two).

Speed: a clean completion costs one lower(), two translate()s, one split() and a few C-level set
calls. Each prefilter is a necessary condition of its exact check, so it never hides a finding:
the pieces between any . ! ? or newline, with spaces and punctuation deleted, must repeat before
a sentence or line can; of R+1 occurrences of an n-gram two start at the same offset mod s
(s <= R), so the n // s words sampled every s words inside them repeat as a tuple. Only then do
the exact checks (regex sentence split, offsets, n-gram dictionaries) run.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import ClassVar

from synthgate.schemas.chain_config import LoopingConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict
from synthgate.validators.looping.labels import (
    ANSWER_LABEL,
    QUESTION_LABEL,
    QUESTION_TEXT,
    QUICK_LABEL,
    answer_before,
    at_boundary,
    labels,
)
from synthgate.validators.looping.views import (
    FENCE,
    PIECE_TABLE,
    STRUCTURED_LINE,
    TOKEN,
    VIEW_TABLE,
    blank,
    code_ranges,
)
from synthgate.validators.normalize import normalize
from synthgate.validators.text import lower_same_length, sentence_spans

_MIN_UNIT_WORDS = 3  # shorter sentences/lines ("Stir.", "}", "return x") repeat legitimately
_MAX_FRAGMENT_WORDS = 12
_MAX_CHAR_UNIT = 4
_MIN_CHAR_REPEATS = 8
_MIN_CHAR_RUN = 200
_CHAR_RUN = re.compile(rf"([^\W_])\1{{{_MIN_CHAR_RUN - 1},}}")
_LENGTH_REASONS = frozenset({"length", "max_tokens"})
_TABLE_CHARS = set("|-:+=")  # an empty table row or border ("|  |  |  |") ends a template, not a loop


def _merged(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Occurrence spans joined where only whitespace separates them (a run of repeats)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and not text[out[-1][1] : a].strip():
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _inside(a: int, b: int, regions: list[tuple[int, int]]) -> bool:
    return any(ra <= a and b <= rb for ra, rb in regions)


def _first_excess(
    units: list[tuple[str, int, int]],
    allowed: int,
    regions: list[tuple[int, int]],
    text: str,
    seq: list[tuple[str, int, int]],
) -> tuple[tuple[int, int], int, list[tuple[int, int]]] | None:
    """The first occurrence beyond `allowed` of any key that no reported loop explains.

    `seq` is every non-blank unit in order (short ones too): the neighbours `_in_varied_context`
    compares. Returns the span, how often its key occurs, and the spans of every key seen too
    often (the text this finding explains).
    """
    by_key: dict[str, list[tuple[int, int]]] = {}
    for key, a, b in units:
        by_key.setdefault(key, []).append((a, b))
    looping = [spans for spans in by_key.values() if len(spans) > allowed]
    if looping:
        looping = [
            spans
            for spans in looping
            if not _in_varied_context(spans, text, seq) and not _restated_far_apart(spans, text)
        ]
    excess = sorted(
        (span, len(spans)) for spans in looping for span in spans[allowed:] if not _inside(*span, regions)
    )
    if not excess:
        return None
    return excess[0][0], excess[0][1], [span for spans in looping for span in spans]


class LoopingValidator(Validator):
    """Finds invented Q/A pairs, repeated text and degenerate trailing loops (see module docstring)."""

    name: ClassVar[str] = "looping"

    def __init__(self, config: LoopingConfig = LoopingConfig()) -> None:
        self.config = config
        n, r = config.ngram_words, config.max_ngram_repeats
        # Sample every s-th word (s <= R): of R+1 occurrences of an n-gram two start at the same
        # offset mod s, so the n // s sampled words inside them repeat as a tuple. s = 2 halves
        # the words hashed and keeps the tuples (4 words for n = 8) rare in prose.
        self._stride = 2 if r >= 2 and n >= 4 else 1
        self._sampled_per_ngram = n // self._stride

    def check(self, sample: Sample) -> Result:
        text = sample.completion
        cfg = self.config
        found: dict[str, Verdict] = {}
        if sample.metadata.finish_reason in _LENGTH_REASONS:
            found["loop.finish_reason_length"] = self._v(
                "loop.finish_reason_length",
                f"Generation stopped at the token limit (finish_reason={sample.metadata.finish_reason!r}); "
                "the completion is probably cut off or looping.",
            )
        if not text.strip():
            return Result(sample, list(found.values()))
        low = lower_same_length(text)
        if not cfg.allow_qa_pairs and QUICK_LABEL.search(low):
            qa = self._extra_qa(sample, text, low)
            if qa:
                found["loop.extra_qa_pair"] = qa

        coarse = low.translate(VIEW_TABLE)
        tokens = coarse.split()
        regions: list[tuple[int, int]] = []  # text already explained by a reported loop
        fragment = self._fragment(text, coarse, tokens)
        if not fragment and max(map(len, tokens), default=0) >= _MIN_CHAR_RUN:
            fragment = self._char_run(text)
        if fragment:
            found["loop.fragment_loop"] = fragment
            regions.append((fragment.span.start, fragment.span.end))  # type: ignore[union-attr]

        # A chorus sung again is the form, not a loop; judged only when a repeat is possible (the
        # prompt scan is not free on long RAG prompts).
        repeats, ngrams = self._repeats_possible(low), self._ngram_possible(tokens)
        song = (repeats or ngrams) and _song_form(sample, text)
        if repeats and not song:
            masked, coarse_masked = self._mask_code(text, coarse)
            line_seq, sentence_seq = (
                self._lines(masked, coarse_masked),
                self._sentences(masked, coarse_masked),
            )
            for code, seq, limit in (
                ("loop.repeated_line", line_seq, cfg.max_line_repeats),
                ("loop.repeated_sentence", sentence_seq, cfg.max_sentence_repeats),
            ):
                units = [
                    u
                    for u in seq
                    if u[0].count(" ") + 1 >= _MIN_UNIT_WORDS and not _is_direction(text[u[1] : u[2]])
                ]
                hit = _first_excess(units, limit, regions, text, seq)
                if hit:
                    found[code] = self._repeat_verdict(code, text, hit[0], hit[1], limit)
                    regions += _merged(hit[2], text)

        if ngrams and not song:
            ngram = self._ngram(text, coarse, regions, sample)
            if ngram:
                a, b = ngram
                found["loop.repeated_ngram"] = self._v(
                    "loop.repeated_ngram",
                    f"The {cfg.ngram_words}-word sequence {text[a:b]!r} appears more than "
                    f"{cfg.max_ngram_repeats} times.",
                    Span(start=a, end=b),
                )
        return Result(sample, list(found.values()))

    def _v(self, code: str, message: str, span: Span | None = None) -> Verdict:
        return verdict(self.name, code, message, span=span)

    # --- invented Q/A pairs -------------------------------------------------------------------

    def _extra_qa(self, sample: Sample, text: str, low: str) -> Verdict | None:
        if not labels(low, QUESTION_LABEL) or _asks_for_qa(sample):
            return None  # "question" in prose, no label, or Q/A pairs are what the user asked for
        low = self._mask_code(text, low)[1]  # a prompt template shown in code is not a loop
        invented = [
            (a, b)
            for a, b in labels(low, QUESTION_LABEL)
            if at_boundary(low, a)
            and answer_before(low, a)
            and not _bare_q_without_question(low, a, b)
            and not self._quotes_prompt(sample, low, b)
        ]
        if not invented:
            return None
        start = invented[0][0]
        answers = [a for a, _ in labels(low, ANSWER_LABEL, start) if at_boundary(low, a)]
        last = max([a for a, _ in invented] + answers)
        end = low.find("\n\n", last)
        end = len(text.rstrip()) if end < 0 else len(text[:end].rstrip())
        return self._v(
            "loop.extra_qa_pair",
            f"{len(invented)} self-invented question label(s) after the answer, the first "
            f"{' '.join(text[start : start + 60].split())!r}; the model kept writing Q/A pairs.",
            Span(start=start, end=end),
        )

    @staticmethod
    def _quotes_prompt(sample: Sample, low: str, label_end: int) -> bool:
        users = [m.content for m in sample.prompt if m.role == "user"]
        if not users:
            return False
        asked = normalize(QUESTION_TEXT.match(low, label_end).group())  # type: ignore[union-attr]
        return len(asked.split()) >= _MIN_UNIT_WORDS and f" {asked} " in f" {normalize(users[-1])} "

    # --- trailing fragment loops ----------------------------------------------------------------

    def _fragment(self, text: str, coarse: str, tokens: list[str]) -> Verdict | None:
        min_repeats = self.config.fragment_min_repeats
        n = len(tokens)
        if n < 2 or tokens[-1] not in tokens[-_MAX_FRAGMENT_WORDS - 1 : -1]:
            return self._char_fragment(text)  # the last word must recur within one unit
        for unit in range(1, _MAX_FRAGMENT_WORDS + 1):
            needed = min_repeats * (2 if unit == 1 else 1)
            if n < unit * needed:
                break
            i = n - 1
            while i >= unit and tokens[i] == tokens[i - unit]:
                i -= 1
            run = n - 1 - i + unit  # tokens in the periodic tail
            if run // unit >= needed and not set("".join(tokens[n - unit :])) <= _TABLE_CHARS:
                start = [m.start() for m in TOKEN.finditer(coarse)][n - run]
                end = len(text.rstrip())
                return self._v(
                    "loop.fragment_loop",
                    f"The completion ends in {run // unit} repeats of "
                    f"{' '.join(tokens[n - unit :])!r}: the model degenerated into a loop.",
                    Span(start=start, end=end),
                )
        return self._char_fragment(text)

    @staticmethod
    def _char_run(text: str) -> Verdict | None:
        """A run of hundreds of one letter or digit anywhere ("000...000" then more text): the model
        degenerated mid-completion; no word, number or key is that long."""
        m = _CHAR_RUN.search(text)
        if not m:
            return None
        return verdict(
            LoopingValidator.name,
            "loop.fragment_loop",
            f"The completion holds a run of {len(m.group())} repeats of {m.group(1)!r}: "
            "the model degenerated.",
            span=Span(start=m.start(), end=m.end()),
        )

    @staticmethod
    def _char_fragment(text: str) -> Verdict | None:
        tail = text.rstrip()
        if tail[-1:] not in tail[-_MAX_CHAR_UNIT - 1 : -1]:
            return None
        for size in range(1, _MAX_CHAR_UNIT + 1):
            unit = tail[-size:]
            if not tail.endswith(unit * _MIN_CHAR_REPEATS) or unit.strip().isdigit():
                continue
            if set(unit.strip()) <= _TABLE_CHARS:
                continue  # table cells and borders ("  |  |  |", "------"), not noise
            if size == 1 and unit.isalnum():
                continue  # "zzzzzzzz" or "0000000000" is a word or a number, not punctuation noise
            start = len(tail) - size * _MIN_CHAR_REPEATS
            while start >= size and tail[start - size : start] == unit:
                start -= size
            return verdict(
                LoopingValidator.name,
                "loop.fragment_loop",
                f"The completion ends in {(len(tail) - start) // size} repeats of {unit!r}.",
                span=Span(start=start, end=len(tail)),
            )
        return None

    # --- repeated sentences, lines and n-grams ------------------------------------------------

    @staticmethod
    def _mask_code(text: str, other: str) -> tuple[str, str]:
        """`text` and a same-length view of it with code (fenced blocks, code lines) blanked out."""
        ranges = [m.span() for m in FENCE.finditer(text)] if "```" in text or "~~~" in text else []
        if ranges:
            text, other = blank(text, ranges), blank(other, ranges)
        lines = code_ranges(text)
        return blank(text, lines), blank(other, lines)

    @staticmethod
    def _lines(masked: str, coarse: str) -> list[tuple[str, int, int]]:
        """Every line with a word left after masking: (words, start, end)."""
        units, pos = [], 0
        for line in masked.split("\n"):
            a, b = pos, pos + len(line)
            pos = b + 1
            words = coarse[a:b].split()
            if words:
                units.append((" ".join(words), a, b))
        return units

    @staticmethod
    def _sentences(masked: str, coarse: str) -> list[tuple[str, int, int]]:
        """Every sentence (or line) with a word left after masking: (words, start, end)."""
        units = []
        for a, b in sentence_spans(masked):
            words = coarse[a:b].split()
            if words and not _in_table_row(masked, a, b):
                units.append((" ".join(words), a, b))
        return units

    def _repeat_verdict(self, code: str, text: str, span: tuple[int, int], count: int, limit: int) -> Verdict:
        a, b = span
        what = "line" if code == "loop.repeated_line" else "sentence"
        return self._v(
            code,
            f"The {what} {' '.join(text[a:b].split())[:80]!r} appears {count} times "
            f"(at most {limit} allowed).",
            Span(start=a, end=b),
        )

    def _repeats_possible(self, low: str) -> bool:
        """Cheap necessary condition for a repeated sentence or line (see module docstring)."""
        allowed = min(self.config.max_sentence_repeats, self.config.max_line_repeats)
        pieces = list(filter(None, low.translate(PIECE_TABLE).split("\n")))
        if len(pieces) - len(set(pieces)) < allowed:
            return False  # a piece seen allowed+1 times leaves at least `allowed` duplicates
        return any(c > allowed and len(k) >= _MIN_UNIT_WORDS for k, c in Counter(pieces).items())

    def _ngram_possible(self, tokens: list[str]) -> bool:
        """Cheap necessary condition for a repeated n-gram (see module docstring)."""
        if len(tokens) < self.config.ngram_words + self.config.max_ngram_repeats:
            return False  # R+1 occurrences need n+R tokens even when they overlap
        sampled = tokens[:: self._stride]
        width = self._sampled_per_ngram
        keys = set(zip(*(sampled[i:] for i in range(width)), strict=False))
        return len(keys) < len(sampled) - width + 1

    def _ngram(
        self, text: str, coarse: str, regions: list[tuple[int, int]], sample: Sample
    ) -> tuple[int, int] | None:
        """Span of the first occurrence beyond the allowed count of any n-gram, outside `regions`.

        An n-gram does not run across the edge of a list item or table/CSV row, and one that
        opens parallel lines saying different things ("- Use X to ...", "- Use Y to ...") is
        structure, not a loop (see `_parallel`). Nor is an n-gram without a word (the numbers of an
        array literal: `0, 0, 0, ...`), one holding `=` or lying inside equation lines (an equation
        restated while solving it), or one the user's turn holds (the answer quotes the text it was
        asked about).
        """
        _, coarse_masked = self._mask_code(text, coarse)
        matches = list(TOKEN.finditer(coarse_masked))
        n, allowed = self.config.ngram_words, self.config.max_ngram_repeats
        line_of = _line_numbers(text, [m.start() for m in matches])
        structured = {text.count("\n", 0, m.start()) for m in STRUCTURED_LINE.finditer(text)}
        tokens = [m.group() for m in matches]
        by_gram: dict[tuple[str, ...], list[int]] = {}
        barrier = -1  # last token index that starts a new segment
        for i in range(len(tokens)):
            edge = i and line_of[i] != line_of[i - 1]
            if edge and (line_of[i] in structured or line_of[i - 1] in structured):
                barrier = i
            if i - n + 1 >= max(barrier, 0):
                by_gram.setdefault(tuple(tokens[i - n + 1 : i + 1]), []).append(i - n + 1)
        excess: list[tuple[int, int]] = []
        quoted: str | None = None
        all_lines = text.split("\n")
        equations = {i for i, line in enumerate(all_lines) if "=" in line}
        # Table rows without edge pipes ("2011 | 1:00 PM | Ravens vs. Bengals | 34-3"): a cell
        # shared by different rows is a column, not a loop.
        rows = {i for i, line in enumerate(all_lines) if line.count("|") >= 2}
        for gram, starts in by_gram.items():
            if len(starts) <= allowed or not any(map(_is_content, gram)) or any("=" in t for t in gram):
                continue
            if all(line_of[i] == line_of[i + n - 1] and line_of[i] in equations for i in starts):
                continue
            if all(line_of[i] in rows for i in starts) and len(
                {all_lines[line_of[i]] for i in starts}
            ) == len(starts):
                continue
            if self._parallel(starts, tokens, line_of) or _spread_out(starts, tokens, n):
                continue
            if quoted is None:
                users = " ".join(m.content for m in sample.prompt if m.role == "user")
                quoted = f" {' '.join(lower_same_length(users).translate(VIEW_TABLE).split())} "
            if f" {' '.join(gram)} " in quoted:
                continue
            for i in starts[allowed:]:
                a, b = matches[i].start(), matches[i + n - 1].end()
                if not _inside(a, b, regions):
                    excess.append((a, b))
                    break
        return min(excess) if excess else None

    def _parallel(self, starts: list[int], tokens: list[str], line_of: list[int]) -> bool:
        """Each occurrence sits inside its own line and the lines differ outside it (numbers and
        list markers aside) by 2+ words: parallel items with a shared lead-in, not a loop."""
        n = self.config.ngram_words
        lines = [line_of[i] for i in starts]
        if len(set(lines)) < len(lines) or any(line_of[i + n - 1] != line_of[i] for i in starts):
            return False
        rests = set()
        for i, line in zip(starts, lines, strict=True):
            j, k = i, i + n
            while j > 0 and line_of[j - 1] == line:
                j -= 1
            while k < len(tokens) and line_of[k] == line:
                k += 1
            rest = tuple(t for t in tokens[j:i] + tokens[i + n : k] if _is_content(t))
            if len(rest) < 2:
                return False
            rests.add(rest)
        return len(rests) == len(starts)


def _in_varied_context(spans: list[tuple[int, int]], text: str, seq: list[tuple[str, int, int]]) -> bool:
    """A repeated lead-in, field or equation line among different content: structure, not a loop.

    The unit has no sentence end (a label "Accommodation: ...", a list entry "- Breadboard", an
    equation "x + y = 24", a lead-in "Simplifying this ratio, we get"), no two occurrences are
    neighbours, and at every occurrence the unit before it, or the unit after it, is a different
    one. A loop repeats its neighbours with it (a looping paragraph, a row pasted again) or
    repeats back to back; a complete sentence said again ("Stir the pot now.") stays a repeat.
    """
    if any(text[a:b].rstrip()[-1:] in ".!?" for a, b in spans) and not _item_refrain(spans, text):
        return False  # a sentence said again
    where = {a: i for i, (_, a, _) in enumerate(seq)}
    idx = [where.get(a) for a, _ in spans]
    if None in idx:
        return False
    pos = sorted(i for i in idx if i is not None)
    if any(j - i < 2 for i, j in zip(pos, pos[1:], strict=False)):
        return False
    before = [seq[i - 1][0] if i else None for i in pos]
    after = [seq[i + 1][0] if i + 1 < len(seq) else None for i in pos]
    return len(set(before)) == len(pos) or len(set(after)) == len(pos)


# The user asks for Q/A-shaped text (jokes, riddles, a quiz, an FAQ, "write five questions"; not
# "answer these questions"), or the prompt is itself a labelled dialogue ("M: Neither. ...") the
# answer continues: labels are content.
_QA_REQUEST = re.compile(
    r"\b(?:jokes?|riddles?|quiz(?:zes)?|faqs?|q ?& ?a|trivia|flash ?cards?|interviews?|questionn?aires?"
    r"|questioner|surveys?)\b"
    r"|\b(?:write|generate|create|list|give|make|suggest|compose|prepare|draft|come up with|include)\b"
    r"[^.?!\n]{0,40}\bquestions\b"
    r"|(?:^|\n)[ \t]*[a-z]:[ \t]"
    r"|(?:^|\n)[ \t]*question[ \t]*#?\d{1,3}[ \t]*[:.)]"  # the prompt numbers its own questions
)
_BARE_Q = re.compile(r"[#*_ \t]*q[ \t]*(?:\*\*|__)?[ \t]*[:.)]")


def _asks_for_qa(sample: Sample) -> bool:
    return any(m.role == "user" and _QA_REQUEST.search(m.content.lower()) for m in sample.prompt)


def _bare_q_without_question(low: str, a: int, b: int) -> bool:
    """A bare "q:" / "q." (no "question", no number) asking nothing before the line ends: a
    variable named q ("- q: the number of quarters", "call it 'q.'"), not an invented question."""
    if not _BARE_Q.fullmatch(low, a, b):
        return False
    return "?" not in QUESTION_TEXT.match(low, b).group()  # type: ignore[union-attr]


_MIN_GAP_WORDS = 40
_MAX_GAP_OVERLAP = 0.7  # a paragraph looping with small edits shares far more of its words


def _restated_far_apart(spans: list[tuple[int, int]], text: str) -> bool:
    """Each repeat comes after 40+ words of other content, and those stretches are no copies of
    each other (their word sets share under 70% of their words): a derivation retried with other
    numbers, a recap. A loop repeats with its surroundings, or with little in between."""
    gaps = [set(text[b:a].lower().split()) for (_, b), (a, _) in zip(spans, spans[1:], strict=False)]
    if any(len(g) < _MIN_GAP_WORDS for g in gaps):
        return False
    return all(len(x & y) < _MAX_GAP_OVERLAP * len(x | y) for x, y in zip(gaps, gaps[1:], strict=False))


def _spread_out(starts: list[int], tokens: list[str], n: int) -> bool:
    """Each occurrence of an n-gram comes 40+ words after the last, and the stretches between are
    no copies of each other: a phrase restated while explaining ("the number of molecules in a
    grain of salt"), not a loop, which repeats with its surroundings."""
    gaps = [set(tokens[a + n : b]) for a, b in zip(starts, starts[1:], strict=False)]
    if any(len(g) < _MIN_GAP_WORDS for g in gaps):
        return False
    return all(len(x & y) < _MAX_GAP_OVERLAP * len(x | y) for x, y in zip(gaps, gaps[1:], strict=False))


def _item_refrain(spans: list[tuple[int, int]], text: str) -> bool:
    """A sentence closing different list items ("1. Chair squats: stand up and sit down. Repeat
    10 times."): each occurrence sits on a list-item line that says 2+ other words, different
    every time. Items holding nothing but the sentence are a loop."""
    rests = set()
    for a, b in spans:
        start = text.rfind("\n", 0, a) + 1
        end = text.find("\n", b)
        if not _LIST_ITEM.match(text, start):
            return False
        rest = tuple(
            w
            for w in (text[start:a] + " " + text[b : len(text) if end < 0 else end]).lower().split()
            if any(c.isalpha() for c in w)
        )
        if len(rest) < 2:
            return False
        rests.add(rest)
    return len(rests) == len(spans)


_LIST_ITEM = re.compile(r"[ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]+")
# A song: the user asks for one, or the text labels its sections ("Chorus:", "[Hook]").
_SONG_REQUEST = re.compile(
    r"\b(?:songs?|lyrics|raps?|chorus|anthem|jingle|chant|hymn|ballad|refrain)\b", re.IGNORECASE
)
_SECTION_LABEL = re.compile(
    r"^[ \t]*[\[(*#]*[ \t]*(?:chorus|refrain|hook|pre-chorus|post-chorus)\b[^\n]{0,20}$",
    re.IGNORECASE | re.MULTILINE,
)
_MIN_SONG_DISTINCT = 0.5  # a song looping on one line has fewer distinct lines than this share


def _song_form(sample: Sample, text: str) -> bool:
    """Lyrics whose repeats are their refrain: a song asked for or sectioned, and at least half its
    lines distinct (a model stuck on one line is still a loop; fragment loops are always checked)."""
    if not (
        _SECTION_LABEL.search(text)
        or any(m.role == "user" and _SONG_REQUEST.search(m.content) for m in sample.prompt)
    ):
        return False
    lines = [line.strip().lower() for line in text.split("\n") if line.strip()]
    return len(lines) >= 4 and len(set(lines)) >= _MIN_SONG_DISTINCT * len(lines)


def _in_table_row(text: str, a: int, b: int) -> bool:
    """The piece lies on a table row ("2011 | 1:00 PM | Ravens vs. Bengals"): cells, not sentences."""
    start, end = text.rfind("\n", 0, a) + 1, text.find("\n", b)
    return text.count("|", start, len(text) if end < 0 else end) >= 2


def _line_numbers(text: str, offsets: list[int]) -> list[int]:
    """The 0-based line of each (ascending) offset in `text`."""
    out, line, pos = [], 0, 0
    for off in offsets:
        line += text.count("\n", pos, off)
        pos = off
        out.append(line)
    return out


def _is_direction(line: str) -> bool:
    """A line wholly in brackets: a stage direction or label ("(voice from phone)", "[Chorus]")
    that a script or song repeats by design."""
    line = line.strip()
    return line[:1] in "([" and line[-1:] in ")]" and len(line) > 2


def _is_content(token: str) -> bool:
    """A word that says something: not a number or a lone list marker/symbol."""
    return any(c.isalpha() for c in token)
