"""The same-length views of a completion that looping's checks scan: lower-cased, punctuation and
sentence ends mapped to spaces and newlines, code blanked out.

Every view keeps the completion's length, so an offset found in any of them is an offset into
the completion, and spans need no mapping back.
"""

from __future__ import annotations

import re
import string
import unicodedata


def _build_table() -> dict[int, str]:
    """Lower-cased text -> words separated by spaces, sentence ends and newlines as "\\n".

    Every mapping is one character to one character, so offsets into the result are offsets into
    the completion.
    """
    table = {ord(c): " " for c in string.punctuation + "\t\r\x0b\x0c"}
    ranges = [(0x80, 0xC0), (0x2000, 0x2070), (0x2190, 0x2800), (0x2E00, 0x2E80), (0x3000, 0x3040)]
    ranges += [(0xFE30, 0xFE70), (0xFF00, 0xFF10), (0xFF1A, 0xFF21), (0xFF3B, 0xFF41), (0xFF5B, 0xFF66)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp))[0] in "PSZC":
                table[cp] = " "
    for c in ".!?\n\u3002\uff01\uff1f":
        table[ord(c)] = "\n"
    return table


_TABLE = _build_table()
# The sentence/line prefilter's view: pieces between any . ! ? or newline, with spaces and
# punctuation deleted (so "Hello, world" and "hello world" give the same piece).
_PIECE_TABLE = {cp: (None if sub == " " else sub) for cp, sub in _TABLE.items()} | {ord(" "): None}
_TOKEN = re.compile(r"\S+")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
# Unfenced markup and code lines (HTML, CSS, C-like): they start with a tag or end in ; { } >.
_CODE_LINE = re.compile(r"^[ \t]*<[^\n]*|^[^\n]*[;{}>][ \t]*$", re.MULTILINE)


def _blank(text: str, ranges: list[tuple[int, int]]) -> str:
    if not ranges:
        return text
    parts, pos = [], 0
    for a, b in ranges:
        parts += [text[pos:a], " " * (b - a)]
        pos = b
    parts.append(text[pos:])
    return "".join(parts)
