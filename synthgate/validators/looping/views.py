"""The same-length views of a completion that looping's checks scan: lower-cased, prose punctuation
and sentence ends mapped to spaces and newlines (operators and symbols kept: `normalize.view_table`
in `symbols` mode), code blanked out, and the line structure (list items, table and CSV rows) the
n-gram check respects.

Every view keeps the completion's length, so an offset found in any of them is an offset into
the completion, and spans need no mapping back.
"""

from __future__ import annotations

import re

from synthgate.validators.normalize import FENCE, view_table

__all__ = ["FENCE", "PIECE_TABLE", "STRUCTURED_LINE", "TOKEN", "VIEW_TABLE", "blank", "code_ranges"]

# Lines that differ only in an operator (`count == limit` / `count < limit`) stay different lines.
VIEW_TABLE = view_table("symbols")
# The sentence/line prefilter's view: pieces between any . ! ? or newline, with spaces and
# punctuation deleted (so "Hello, world" and "hello world" give the same piece).
PIECE_TABLE = {cp: (None if sub == " " else sub) for cp, sub in VIEW_TABLE.items()} | {ord(" "): None}
TOKEN = re.compile(r"\S+")
# Unfenced markup and code lines: HTML, CSS and C-like lines start with a tag or end in ; { } >;
# Python/Swift/JS-like lines are an assignment (`count[i] = 1`, `leftIndex += 1`), a bare call
# (`turtle.forward(size / 4)`) or open with a lower-case keyword (`return x`, `else:`). Code repeats
# such lines by design (a square is four forward/right pairs); a prose line never has this shape
# (a math line "x + y = 24" does not start with `name =`, so equations stay prose).
CODE_LINE = re.compile(
    r"^[ \t]*<[^\n]*|^[^\n]*[;{}>][ \t]*$"
    r"|^[ \t]*[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?[ \t]*(?:[-+*/%|&^]|//|\*\*)?=(?!=)[^\n]*$"
    r"|^[ \t]*[A-Za-z_][\w.]*\([^\n]*\)[ \t]*$"
    r"|^[ \t]*(?:if|elif|else|for|while|def|class|try|except|with)\b[^\n]*:[ \t]*$"
    r"|^[ \t]*(?:return|import|from[ \t]+[\w.]+[ \t]+import)\b[^\n]*$",
    re.MULTILINE,
)
# A long unbroken run holding several regex/code symbols (a regex, a URL with a query, a minified
# expression) repeats its groups legitimately: it is blanked like code.
_LONG_RUN = re.compile(r"\S{24,}")
_RUN_SYMBOLS = frozenset("|\\[]()^$*+?{}=<>&")
_MIN_RUN_SYMBOLS = 4


def code_ranges(text: str) -> list[tuple[int, int]]:
    """[start, end) of unfenced code lines and of long symbol-laden runs (regexes), in order."""
    ranges = [m.span() for m in CODE_LINE.finditer(text)]
    runs = [
        m.span()
        for m in _LONG_RUN.finditer(text)
        if sum(c in _RUN_SYMBOLS for c in m.group()) >= _MIN_RUN_SYMBOLS
    ]
    if not runs:
        return ranges
    merged: list[tuple[int, int]] = []
    for a, b in sorted(ranges + runs):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


# A line of parallel structure: a list item, a markdown table row, a CSV row (2+ commas with no
# space after them). An n-gram does not run from such a line into the next: the shared cells of
# adjacent rows are not one repeated phrase.
STRUCTURED_LINE = re.compile(
    r"^[ \t]*(?:[-*+\u2022][ \t]|\d{1,3}[.)][ \t]|\|)|^[^\n]*\|[^\n]*\|[^\n]*$|^[^\n ]*,[^ \n][^\n]*,[^ \n]",
    re.MULTILINE,
)


def blank(text: str, ranges: list[tuple[int, int]]) -> str:
    """`text` with each [start, end) range replaced by as many spaces."""
    if not ranges:
        return text
    parts, pos = [], 0
    for a, b in ranges:
        parts += [text[pos:a], " " * (b - a)]
        pos = b
    parts.append(text[pos:])
    return "".join(parts)
