"""Artifacts teachers and templating scripts leave in text.

Checks the completion and the user turns of the prompt (span field "prompt", offsets into the
turn's content; the message names the turn when it is not the last user turn).

Unfilled placeholders (`artifact.unfilled_placeholder`):
- `{name}` and `{{ name }}`: an identifier (letters, digits, underscores; no spaces, quotes or
  colons) in braces. Not flagged: inside code (``` or ~~~ fences, lines indented 4+ spaces,
  `inline code`) or math (`$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]`); right after a LaTeX
  command, `^`, `_`, `}` or `$` (`\\frac{a}{b}`, `x^{n}`, JS `${x}`); on a line that formats or
  assigns strings (`f"..."`, C# `$"..."`, `.format(`, `print(`, `x = "..."`); after `#` (Ruby
  `#{x}`) or glued to a word (`begin{enumerate}`, LaTeX that lost its backslash); after a JSDoc
  tag (`@param {string}`); anywhere in a code-shaped text (most of its 3+ lines are code, fenced
  or not: `is_code_shaped`), where braces are the language's syntax. JSON (`{"a": 1}`), sets
  (`{1, 2}`) and code blocks (`{ x++; }`) never have the `{identifier}` shape.
- `<PLACEHOLDER>`, `<INSERT_NAME>`: all caps (3+ characters) in angle brackets; also
  `<insert ...>`, `<your ...>` and Alpaca's `<noinput>`. Not flagged: HTML tags (any case),
  tokens ML prose talks about (`<EOS>`, `<UNK>`, ...), key names (`<ENTER>`), generics (`List<T>`),
  and the reader's own value on a code line (`bot.login('<YOUR_TOKEN>');`).
- `[INSERT ...]`, `[Your Name]`, `[FIRST_NAME]`, `[Customer's Name]`, `[date and time]`: square
  brackets whose text starts with insert/your/enter your/fill in, is upper-case joined by `_`,
  or is a short phrase (no sentence punctuation, not opening with an article or pronoun, as
  editorial insertions do) ending in a slot noun (name, date, company, ...), or a bracketed word
  where a letter is signed ("Best, [User]"). Not flagged:
  indexing (`arr[i]`), lists (`[1, 2]`), markdown links, numeric references (`[1]`).
- When a user turn asks for a template (template, placeholder, fill-in, form letter, mail
  merge), placeholders are what was asked for: none are flagged in that sample. When it asks to
  clean text (clean up, pre-process, remove tags/braces/noise), the prompt's own placeholders are
  the material: only the completion's are flagged. A `[slot]` the user's text holds and the
  answer keeps (an email to rewrite, "Dear [Employer], ...") is the user's template, faithfully
  kept: flagged in neither turn (brace slots stay flagged; templating scripts fill `{name}`).

Citation markers (`artifact.citation_marker`): `[cite: 12]`, `[cite_start]`, `[cite_end]`,
`【4:0†source】`, `[3†source]`, `citeturn0search1` (and its private-use-character form), `[^1^]`,
and `[citation needed]` (a Wikipedia maintenance tag, never part of an answer). Numeric
references such as `[1]` belong to cited prose and are left alone.

Special tokens (`artifact.special_token`): `<|...|>` (im_start, im_end, endoftext, eot_id,
start_header_id, ...), `<｜...｜>`, `<start_of_turn>`, `<end_of_turn>`, `[INST]`, `[/INST]`,
`<<SYS>>`, `<</SYS>>`; `<s>` at the start of a text or before `[INST]`/`<<SYS>>`; `</s>` at the end,
before `<s>`/`[INST]`, or with no `<s>` before it (so HTML `<s>struck</s>` is fine); a stray
`</think>` with no `<think>` before it. Tokens inside code or inline code (docs about chat
templates) are not flagged.

Boilerplate (`artifact.boilerplate`, completion only, warn by default): the assistant disclaiming
its own nature or abilities in any common wording ("As a text-based AI, I don't ...", "I'm just an
AI", "I don't have personal opinions", "my training data only goes up to ..."); the grammar and its
traps are in synthgate.validators.artifacts.boilerplate.

Empty completion (`artifact.empty_completion`): empty or whitespace only.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import ClassVar

from synthgate.schemas.chain_config import ArtifactsConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.artifacts.boilerplate import find_boilerplate, is_ai_fiction_prompt
from synthgate.validators.base import CheckedText, Result, Validator, texts_to_check
from synthgate.validators.codes import verdict
from synthgate.validators.text import fenced_ranges

_PLACEHOLDER = "artifact.unfilled_placeholder"
_CITATION = "artifact.citation_marker"
_SPECIAL = "artifact.special_token"


# ---- code / math regions: text inside them is never an artifact --------------------------------
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_INDENTED = re.compile(r"^(?: {4}|\t)[^\n]*", re.M)
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)


class _Protected:
    """Merged [start, end) spans of code and math, computed only when a candidate asks."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None
        self._ends: list[int] = []

    def _compute(self, text: str) -> None:
        spans = fenced_ranges(text)
        if "`" in text:
            spans += [m.span() for m in _INLINE_CODE.finditer(text)]
        if "    " in text or "\t" in text:
            spans += [m.span() for m in _INDENTED.finditer(text)]
        if "$" in text or "\\(" in text or "\\[" in text:
            spans += [m.span() for m in _MATH.finditer(text)]
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self._starts = [a for a, _ in merged]
        self._ends = [b for _, b in merged]

    def covers(self, pos: int) -> bool:
        if self._starts is None:
            self._compute(self._text)
        assert self._starts is not None
        i = bisect_right(self._starts, pos) - 1
        return i >= 0 and pos < self._ends[i]


# ---- placeholders -------------------------------------------------------------------------------
_BRACE = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}|\{[A-Za-z_][A-Za-z0-9_]*\}")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+\*?\s*$")
_CODE_LINE = re.compile(
    r"""\b[fF][rR]?["']|\$@?"|\.format\(|\bprint\(|%\(|=>|;\s*$"""
    r"""|^\s*(?:def|class|return|import|const|let|var|function|public|private|echo)\b"""
    r"""|^\s*[A-Za-z_][\w.\[\]]*\s*=\s*[fFrRbB]?["'`]"""
)
# JSDoc / PHPDoc types: `@param {string} name`, `@returns {number}`.
_DOC_TAG = re.compile(r"@[a-z]+\s+$")
# A line of code without a fence: ends on `;` `{` `}`, or opens with a keyword or a comment mark.
_CODE_SHAPED_LINE = re.compile(
    r"[;{}]\s*$|^\s*(?:def|class|return|import|from|const|let|var|function|public|private|static|"
    r"for|if|elif|else|while|end|puts|print|console|#include|//|/\*|\*|#!)(?:\W|$)"
)


def is_code_shaped(text: str) -> bool:
    """True when most lines (3 or more) of `text` are code, fenced or not: `{x}` there is syntax
    (C# `$"{x}"`, format strings, JSDoc types), not a template slot.

    >>> is_code_shaped("def f(x):\\n    return x\\n\\nprint(f(2))")
    True
    >>> is_code_shaped("Dear {name},\\nThank you for your order.\\nBest regards,\\nThe team")
    False
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 3:
        return False
    code = sum(1 for ln in lines if _CODE_SHAPED_LINE.search(ln))
    return code * 2 >= len(lines)


# Patterns open with a literal so the regex engine can skip to candidates; the context checks
# (what precedes, what follows) are done in Python on the few matches.
_ANGLE = re.compile(r"<([A-Z][A-Z0-9_ ]{2,40}|(?i:insert|your)\b[^<>\n]{0,40})>")
_NOINPUT = re.compile(r"<\s*no\s*input\s*>", re.I)  # Alpaca's empty-input marker; never code
_ANGLE_OK = frozenset(
    "HTML HEAD BODY TITLE META LINK SCRIPT STYLE DIV SPAN TABLE THEAD TBODY TFOOT FORM INPUT "
    "BUTTON SELECT OPTION LABEL IMG NAV MAIN SECTION ARTICLE ASIDE HEADER FOOTER CENTER FONT "
    "STRONG CODE PRE SUB SUP BIG SMALL ABBR CITE EOS BOS UNK PAD SEP CLS MASK EOF EOL NUL "
    "ENTER CTRL ALT SHIFT TAB ESC SPACE HOME END DEL BACKSPACE RETURN SYS INST".split()
)
_SQUARE = re.compile(r"\[([^\[\]\n]{1,60})\]")
_SQ_LEAD = re.compile(
    r"(?i)^\s*(?:insert|your|enter (?:your|the|a|an)\b|add (?:your|the)\b|fill in|placeholder|name of)"
)
_SQ_CAPS = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_SQ_SLOT = re.compile(
    r"(?i)^(?!(?:the|a|an|his|her|their|its|our|my|this|that|sic)\b)(?:[a-z][\w’' -]{0,40}?\b)?"
    r"(?:name|names|date|time|address|company|organi[sz]ation|email|e-mail|phone|phone number|"
    r"number|amount|title|location|city|website|url|recipient|manager|duration|year|signature|"
    r"position|product|price)$"
)
# "Clean up the following text", "remove the tags": the prompt's own braces are the material.
_CLEAN_ASK = re.compile(
    r"(?i)\b(?:clean(?:\s|-)?up|clean (?:the|this)|pre-?process|sanitize|remove (?:the |all )?(?:noise|"
    r"brackets|braces|tags|markup|special characters)|strip (?:the |all )?(?:tags|markup|braces))"
)
# "Best, [User]", "Kind regards,\n[Sender]": a bracketed word where a letter is signed.
_SIGNED_BY = re.compile(
    r"(?i)\b(?:best|regards|sincerely|yours(?: truly)?|cheers|thanks|thank you|warmly|respectfully)"
    r"[^\n.!?,]{0,20},\s*$"
)
_SQ_WORDS = re.compile(r"^[A-Z][A-Za-z'’ -]{0,30}$")
_TEMPLATE_ASK = re.compile(r"(?i)\b(?:templates?|placeholders?|fill[- ]in|form letter|mail[- ]merge)\b")


def _placeholders(text: str, protected: _Protected) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    code_shaped: bool | None = None  # computed once, on the first brace candidate
    if "{" in text:
        for m in _BRACE.finditer(text):
            a = m.start()
            # `^ _ } $ \\` : LaTeX and JS `${x}`; `#`: Ruby `#{x}`; a letter: LaTeX that lost its
            # backslash (`begin{enumerate}`). A template slot stands apart: "Dear {name},".
            glued = a > 0 and (text[a - 1] in "^_}$\\#" or text[a - 1].isalnum())
            if glued or _LATEX_CMD.search(text, max(0, a - 30), a) or protected.covers(a):
                continue
            line_start = text.rfind("\n", 0, a) + 1
            line = text[line_start : _line_end(text, m.end())]
            if _CODE_LINE.search(line) or _DOC_TAG.search(text, max(line_start, a - 40), a):
                continue
            if code_shaped is None:
                code_shaped = is_code_shaped(text)
            if not code_shaped:
                found.append((a, m.end(), _PLACEHOLDER))
    if "<" in text:
        for m in _ANGLE.finditer(text):
            a, b = m.span()
            if (a and (text[a - 1] == "<" or _is_word(text[a - 1]))) or text.startswith(">", b):
                continue  # List<T>, <<SYS>>
            if m.group(1).strip().upper() in _ANGLE_OK or protected.covers(a):
                continue
            line_start = text.rfind("\n", 0, a) + 1
            if _CODE_LINE.search(text[line_start : _line_end(text, b)]):
                continue  # `bot.login('<YOUR_TOKEN>');`: the reader's own value in code
            found.append((m.start(), m.end(), _PLACEHOLDER))
        found += [(m.start(), m.end(), _PLACEHOLDER) for m in _NOINPUT.finditer(text)]
    if "[" in text:
        for m in _SQUARE.finditer(text):
            a, b = m.span()
            if (a and (text[a - 1] in "])" or _is_word(text[a - 1]))) or text[b : b + 1] in ("(", "[", ":"):
                continue  # arr[i], [link](url), [ref][1], [1]: url
            inner = m.group(1).strip()
            signed = _SIGNED_BY.search(text, max(0, a - 40), a) is not None and _SQ_WORDS.match(inner)
            if (_SQ_LEAD.match(inner) or _SQ_CAPS.match(inner) or _SQ_SLOT.match(inner) or signed) and not (
                protected.covers(a)
            ):
                found.append((a, b, _PLACEHOLDER))
    return found


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


# ---- citation markers and special tokens --------------------------------------------------------
# Each family opens with a literal ("[", "<", "【") so the regex engine skips to candidates, and
# runs only when that character is in the text (a memchr).
_CITE_BRACKET = re.compile(
    r"\[(?i:cite(?:_start|_end)?(?::\s*[\w ,.-]{0,40})?\]|citation needed\]|\^\d+\^\]"
    r"|\d+(?::\d+)?†[^\]\n]{0,40}\])"
)
_CITE_LENTICULAR = re.compile(r"【[^】\n]{0,40}†[^】\n]{0,40}】|【\d+:\d+[^】\n]{0,40}】")
_CITE_TURN = re.compile(
    r"\ue200cite(?:\ue202[^\ue201\n]{1,80})+\ue201|cite(?:turn\d+(?:search|news|view|file|image)\d+)+"
)
_TOKEN_LT = re.compile(
    r"<(?:\|[A-Za-z0-9_]{2,40}\||｜[^｜\n]{1,40}｜|(?:start|end)_of_turn|</?SYS>|/?s|/think)>"
)
_TOKEN_SQ = re.compile(r"\[/?INST\]")


def _citations(text: str, protected: _Protected) -> list[tuple[int, int, str]]:
    matches: list[re.Match[str]] = []
    if "[" in text:
        matches += _CITE_BRACKET.finditer(text)
    if "【" in text:
        matches += _CITE_LENTICULAR.finditer(text)
    if "\ue200" in text or "citeturn" in text:
        matches += _CITE_TURN.finditer(text)
    return [(m.start(), m.end(), _CITATION) for m in matches if not protected.covers(m.start())]


def _special_tokens(text: str, protected: _Protected) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    matches: list[re.Match[str]] = []
    if "<" in text:
        matches += _TOKEN_LT.finditer(text)
    if "[" in text:
        matches += _TOKEN_SQ.finditer(text)
    for m in matches:
        tok, a, b = m.group(), m.start(), m.end()
        if protected.covers(a):
            continue
        after = text[b : b + 8].lstrip()
        if tok == "<s>" and text[:a].strip() and not after.startswith(("[INST]", "<<SYS>>")):
            continue  # HTML strikethrough mid-text, not a BOS token
        if tok == "</s>" and after and not after.startswith(("<s>", "[INST]")) and "<s>" in text[:a]:
            continue  # closes an HTML <s>
        if tok == "</think>" and "<think>" in text[:a]:
            continue  # a reasoning block: the thinking validator's business
        found.append((a, b, _SPECIAL))
    return found


def _asks_for_template(sample: Sample) -> bool:
    return any(m.role == "user" and _TEMPLATE_ASK.search(m.content) for m in sample.prompt)


def _asks_to_clean(sample: Sample) -> bool:
    return any(m.role == "user" and _CLEAN_ASK.search(m.content) for m in sample.prompt)


class ArtifactsValidator(Validator):
    """Flags placeholders, citation markers, special tokens, boilerplate and empty completions."""

    name: ClassVar[str] = "artifacts"

    def __init__(self, config: ArtifactsConfig | None = None) -> None:
        self.config = config or ArtifactsConfig()

    def check(self, sample: Sample) -> Result:
        cfg = self.config
        out: list[Verdict] = []
        if not sample.completion.strip():
            what = "empty" if not sample.completion else "whitespace only"
            span = Span(start=0, end=len(sample.completion))
            msg = f"the completion is {what}"
            out.append(verdict(self.name, "artifact.empty_completion", msg, span=span))
        found = [(t, v) for t in texts_to_check(sample, prompts=cfg.check_prompts) for v in self._scan(t)]
        if found and any(v.code == _PLACEHOLDER for _, v in found) and _asks_for_template(sample):
            found = [(t, v) for t, v in found if v.code != _PLACEHOLDER]  # asked for: not an artifact
        if any(t.field == "prompt" and v.code == _PLACEHOLDER for t, v in found) and _asks_to_clean(sample):
            found = [(t, v) for t, v in found if not (t.field == "prompt" and v.code == _PLACEHOLDER)]
        if any(t.field == "completion" and v.code == _PLACEHOLDER for t, v in found):
            found = _drop_kept_user_slots(found, sample)
        out += [v for _, v in found]
        if cfg.boilerplate:
            protected = _Protected(sample.completion)
            hits = find_boilerplate(sample.completion, skip=protected.covers)
            # The prompt (often long RAG context) is read only when there is something to excuse.
            if hits and any(m.role == "user" and is_ai_fiction_prompt(m.content) for m in sample.prompt):
                hits = find_boilerplate(sample.completion, fiction=True, skip=protected.covers)
            for a, b in hits:
                out.append(
                    verdict(
                        self.name,
                        "artifact.boilerplate",
                        f'assistant boilerplate "{sample.completion[a:b]}" in the completion',
                        span=Span(start=a, end=b),
                        severity=cfg.boilerplate_severity,
                    )
                )
        return Result(sample, out)

    def _scan(self, t: CheckedText) -> list[Verdict]:
        text, cfg = t.text, self.config
        if not ("[" in text or "<" in text or "{" in text or "【" in text or "\ue200" in text) and (
            "citeturn" not in text
        ):
            return []  # the common clean case: no regex runs at all
        protected = _Protected(text)
        found: list[tuple[int, int, str]] = []
        if cfg.placeholders:
            found += _placeholders(text, protected)
        if cfg.citation_markers:
            found += _citations(text, protected)
        if cfg.special_tokens:
            found += _special_tokens(text, protected)
        labels = {_PLACEHOLDER: "unfilled placeholder", _CITATION: "leftover citation marker"}
        return [
            verdict(
                self.name,
                code,
                f'{labels.get(code, "chat-template special token")} "{text[a:b]}" in {t.where}',
                span=Span(start=a, end=b, field=t.field),
            )
            for a, b, code in sorted(found)
        ]


def _drop_kept_user_slots(
    found: list[tuple[CheckedText, Verdict]], sample: Sample
) -> list[tuple[CheckedText, Verdict]]:
    """A `[slot]` the user's own text holds and the answer keeps ("rewrite this email: Dear
    [Employer], ..." answered "Dear [Employer], ..."; "Company: [Company name]" -> "[Company Name]"):
    the user's template, faithfully kept, in neither turn an artifact. Brace slots stay flagged
    (templating scripts fill `{name}`), and so does a `[slot]` the user's text does not hold."""
    user = "\n".join(m.content for m in sample.prompt if m.role == "user").lower()

    def kept(t: CheckedText, v: Verdict) -> bool:
        if v.code != _PLACEHOLDER or v.span is None:
            return False
        slot = t.text[v.span.start : v.span.end].lower()
        return slot.startswith("[") and slot in user

    completion_kept = {
        t.text[v.span.start : v.span.end].lower()  # type: ignore[union-attr]
        for t, v in found
        if t.field == "completion" and kept(t, v)
    }
    if not completion_kept:
        return found
    return [
        (t, v)
        for t, v in found
        if not (kept(t, v) and t.text[v.span.start : v.span.end].lower() in completion_kept)  # type: ignore[union-attr]
    ]
