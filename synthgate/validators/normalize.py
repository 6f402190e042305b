"""One normalisation of text for every check that compares texts (duplicates, loops, preference
pairs, contamination keys). Two modes:

- `words`: lower-cased, every ASCII punctuation mark and symbol dropped, whitespace collapsed. For
  prose, where "Hello, world!" and "hello world" say the same thing.
- `symbols`: the `words` text, then (after `SIGNATURE_MARK`) its operators, brackets and other
  symbols in order (`SYMBOLS`: not sentence punctuation, quotes or the hyphen). For code, math
  and puzzles, where `i <= n` and `i < n` differ and the puzzles `#@! = !#` and `%^& = &%` are
  two questions, not one, while "What is LoRA, exactly?" and "what is lora exactly" stay equal.

>>> normalize("Hello,   WORLD!!")
'hello world'
>>> normalize("Is i <= n?  (see: x.y)", "symbols")
'is i n see xy \\x1f<=()'
>>> normalize("#@! = !#", "symbols") != normalize("%^& = &%", "symbols")
True

Checks that scan a text in place need views of the same length (offsets in the view are offsets
in the text): `view_table(mode)` maps each character to itself, a space, or a newline.
`layout_key` (whitespace and code comments only) and `strip_enumeration` (list numbering) are the
narrower keys of the preference and contamination checks; `tokens`/`token_offsets` the words
contamination and echo match (bytes, for speed, with their offsets in the text), and `token_text`
the same words as one phrase (the generation pipeline's instruction-echo check).

"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache
from typing import Literal

Mode = Literal["words", "symbols"]

QUOTES = "'\"`"
# What `symbols` mode keeps of ASCII punctuation: operators, brackets and the rest. Sentence
# punctuation, quotes and the hyphen are not among them: in prose the hyphen is a dash or a bullet
# far more often than a minus, and "5 - 3" still differs from "5 + 3".
SYMBOLS = "".join(c for c in string.punctuation if c not in ".,;:!?-" + QUOTES)
SIGNATURE_MARK = b"\x1f"  # separates the words from the symbol signature in `symbols` mode

_ALL_PUNCTUATION = string.punctuation.encode()
_NOT_SYMBOLS = bytes(c for c in range(256) if chr(c) not in SYMBOLS)


def normalize_bytes(text: str, mode: Mode = "words") -> bytes:
    """`normalize` as UTF-8 bytes: the form the set-level checks hash and compare.

    Two C-level `bytes.translate` passes and a split/join: a few µs for a typical record, where a
    regex over the text costs ten times more.
    """
    data = text.lower().encode("utf-8", "surrogatepass")
    words = b" ".join(data.translate(None, _ALL_PUNCTUATION).split())
    if mode == "words":
        return words
    signature = data.translate(None, _NOT_SYMBOLS)
    return words + b" " + SIGNATURE_MARK + signature if signature else words


def normalize(text: str, mode: Mode = "words") -> str:
    """Lower-cased text with whitespace collapsed, punctuation dropped as `mode` says (see module)."""
    return normalize_bytes(text, mode).decode("utf-8", "surrogatepass")


def template_key(normalized: bytes) -> bytes:
    """A normalized text with every number replaced by "0": prompts that differ only in numbers
    ("what is 3 + 5" / "what is 7 + 2") share it; "w1253" is a word, not a number.

    >>> template_key(b"what is 3 5 \\x1f+") == template_key(b"what is 17 25 \\x1f+")
    True
    >>> template_key(b"w1253 w7")
    b'w1253 w7'
    """
    return b" ".join(b"0" if w.isdigit() else w for w in normalized.split(b" "))


@lru_cache(maxsize=2)
def view_table(mode: Mode = "words") -> dict[int, str]:
    """Lower-cased text -> words separated by spaces, sentence ends and newlines as "\\n".

    Every mapping is one character to one character, so offsets into the result are offsets into
    the text. `words` blanks all punctuation and symbols; `symbols` keeps ASCII operators and
    brackets and Unicode math/currency symbols, so lines that differ only in `==`/`<` stay apart.
    """
    kept = set(SYMBOLS) if mode == "symbols" else set()
    table = {ord(c): " " for c in string.punctuation + "\t\r\x0b\x0c" if c not in kept}
    ranges = [(0x80, 0xC0), (0x2000, 0x2070), (0x2190, 0x2800), (0x2E00, 0x2E80), (0x3000, 0x3040)]
    ranges += [(0xFE30, 0xFE70), (0xFF00, 0xFF10), (0xFF1A, 0xFF21), (0xFF3B, 0xFF41), (0xFF5B, 0xFF66)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            category = unicodedata.category(chr(cp))
            if category[0] in "PSZC" and not (mode == "symbols" and category in ("Sm", "Sc")):
                table[cp] = " "
    for c in ".!?\n\u3002\uff01\uff1f":
        table[ord(c)] = "\n"
    return table


# --- narrower keys ---------------------------------------------------------------------------

# A fenced code block (``` or ~~~), through its closing fence or the end of the text.
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# A `//` comment after code or at a line start (not the `//` of "https://").
_LINE_COMMENT = re.compile(r"(?:^|(?<=\s))//[^\n]*", re.MULTILINE)
# A `#` comment trailing code ("x = 1  # why"): markdown headers open a line and are kept.
_TRAILING_HASH = re.compile(r"(?<=\S)[ \t]+#(?![#\w{(\[])[^\n]*")
_HASH_LINE = re.compile(r"^[ \t]*#(?!include|define|if|pragma|!)[^\n]*", re.MULTILINE)
_SPACE_RUNS = re.compile(r"(?<=\S)[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def layout_key(text: str) -> str:
    """`text` with runs of spaces inside lines, trailing spaces, blank lines and code comments
    removed; case, words, symbols, line breaks and indentation kept.

    Two texts with the same layout key say exactly the same thing. `#` lines count as comments
    inside fenced code only (outside they are markdown headers); `//` and `/* */` comments anywhere.

    >>> code = "for (i = 0; i <= n; i++)   // all\\n\\n   x += i;"
    >>> layout_key(code) == layout_key("for (i = 0;  i <= n; i++)\\n   x += i;")
    True
    >>> layout_key("i <= n") == layout_key("i < n")
    False
    """
    if "```" in text or "~~~" in text:
        text = FENCE.sub(lambda m: _HASH_LINE.sub("", m.group()), text)
    if "/*" in text:
        text = _BLOCK_COMMENT.sub("", text)
    if "//" in text:
        text = _LINE_COMMENT.sub("", text)
    if "#" in text:
        text = _TRAILING_HASH.sub("", text)
    # Line breaks and leading indentation stay: in code they carry meaning (Python blocks).
    lines = (_SPACE_RUNS.sub(" ", line).rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line))


# A list marker opening a text or line: "2.", "2)", "(2)", "#2", "Q2:", "Question 2:", "(b)", "b)",
# "- ", "* ", "•". A letter marker needs its bracket: "A. Lincoln" keeps its initial.
_ENUMERATION = re.compile(
    r"^[ \t]*(?:(?:q(?:uestion)?[ \t]*)?#?\(?\d{1,4}[.):]|\(?[a-z][)]|\([a-z]\.?\)|[-*\u2022])[ \t]+",
    re.IGNORECASE | re.MULTILINE,
)


def strip_enumeration(text: str) -> str:
    """`text` without list numbering at the start of each line.

    >>> strip_enumeration("5. What does a Python decorator do?")
    'What does a Python decorator do?'
    >>> strip_enumeration("Q2: Name a prime.\\n(b) Name another.")
    'Name a prime.\\nName another.'
    """
    return _ENUMERATION.sub("", text)


# --- word tokens with offsets (contamination) -------------------------------------------------

# One byte table lower-cases ASCII letters and blanks every other ASCII character but digits;
# bytes >= 0x80 (parts of UTF-8 characters) pass, the few distinct non-ASCII characters of a text
# having been folded first. Bytes and C string methods keep this at a few microseconds per record:
# a regex scan costs ten times more.
_WORD_BYTES = bytes(
    ord(chr(c).lower()) if c < 0x80 and chr(c).isalnum() else 0x20 if c < 0x80 else c for c in range(256)
)
_ASCII = bytes(range(0x80))
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=8192)
def _fold(c: str) -> str:
    """One character as `tokens` sees it: lower-cased, and a space where not a letter or digit."""
    return "".join(x if x.isalnum() else " " for x in c.lower())


def tokens(text: str) -> list[bytes]:
    """Lower-cased words (runs of letters and digits) as UTF-8 bytes: the unit contamination compares.

    >>> tokens("Janet’s Café sells 16 eggs_per day!")
    [b'janet', b's', b'caf\xc3\xa9', b'sells', b'16', b'eggs', b'per', b'day']
    """
    data = text.encode("utf-8", "surrogatepass")
    if not text.isascii():
        for c in set(data.translate(None, _ASCII).decode("utf-8", "surrogatepass")):
            if (folded := _fold(c)) != c:
                data = data.replace(c.encode("utf-8", "surrogatepass"), folded.encode())
    return data.translate(_WORD_BYTES).split()


def token_offsets(text: str) -> list[tuple[int, int]]:
    """[start, end) in `text` of each word of `tokens(text)`."""
    if text.isascii():
        return [m.span() for m in _ASCII_WORD.finditer(text)]
    owner = [i for i, c in enumerate(text) for _ in _fold(c)]  # folding may lengthen: 'İ' -> 'i '
    folded = "".join(map(_fold, text))
    return [(owner[m.start()], owner[m.end() - 1] + 1) for m in re.finditer(r"\S+", folded)]


def token_text(text: str) -> str:
    """`tokens(text)` as one string, single spaces between words: a phrase key for containment tests.

    >>> token_text("Plain prose (no markdown)!")
    'plain prose no markdown'
    """
    return b" ".join(tokens(text)).decode("utf-8", "surrogatepass")
