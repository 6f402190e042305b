"""Preference pairs: merge both sides' chain results into one record's verdicts, and judge the pair.

Both sides of a pair run through the chain. The record keeps the chosen side's verdicts as they
are (the chosen answer is what the model is pushed towards). The rejected side's verdicts are
kept too, with their spans, under the validator name `rejected:<validator>` and lowered to `warn`:
a broken rejected answer does not gate the record by itself; `pref.rejected_failed` (warn by
default, raise it with `severity_overrides`) says it failed. Findings on the shared prompt are
reported once, on the chosen side.

Pair verdicts (validator `pref`):
- `pref.chosen_failed` / `pref.rejected_failed`: a side has a blocking verdict; the message names
  its codes.
- `pref.identical_pair` (block): chosen and rejected are the same once whitespace and code comments
  are normalized (`normalize.layout_key`): the pair carries no preference signal.
- `pref.near_identical_pair` (warn): prose sides that differ only in case, sentence punctuation or
  line breaks, or by a small word edit (rapidfuzz ratio of the `symbols`-normalized texts >=
  `identical_threshold`) that changes no number, operator, symbol or name. A one-character code
  repair (`i <= n` -> `i < n`), a changed figure or a dropped name ("AS Company in Gorazde" -> "AS
  Company") is the preference signal itself and is not reported; so is a case difference when the
  prompt asks to change letter case (capitalize, upper/lower case).
- `pref.chosen_refusal`: the chosen side is a refusal (an answer whose first line is one of the
  options the prompt lists, "-- it is not possible to tell", is not). `PairChecker.finish` raises
  the set finding `pref.chosen_refusal_share` when more than `max_chosen_refusal_share` of the
  pairs prefer one.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from synthgate.schemas.chain_config import PreferenceConfig
from synthgate.schemas.verdict import SetFinding, Verdict
from synthgate.validators.base import Result
from synthgate.validators.chain import apply_severity
from synthgate.validators.codes import verdict
from synthgate.validators.normalize import layout_key, normalize
from synthgate.validators.refusal import is_refusal

NAME = "pref"
REJECTED_PREFIX = "rejected:"
_SHARED_FIELDS = frozenset({"prompt", "system_prompt"})
_SIGNS = re.compile(r"[^\w\s]|\d+")  # numbers and symbols: an edit touching them is a real edit


_NAME = re.compile(r"\b[A-Z][a-z]\w*")
_CASE_TASK = re.compile(
    r"\b(?:capitali[sz]\w*|upper ?case|lower ?case|title case|camel ?case|(?:letter )?case of)\b",
    re.IGNORECASE,
)


def _case_is_the_task(prompt: str) -> bool:
    """The prompt asks to change letter case: sides differing only in case differ in the answer."""
    return _CASE_TASK.search(prompt) is not None


_WORDS = re.compile(r"\w+")
_OPTION_LEAD = re.compile(r"^[\s\-*•>(]*")
_OPTION_MAX_WORDS = 12
_INFLECTION = 80  # rapidfuzz ratio above which two words are one name inflected ("Firmware", "Firmwares")


def _names(text: str) -> set[str]:
    """Capitalized words that do not open a sentence (names), lower-cased."""
    out = set()
    for m in _NAME.finditer(text):
        before = text[: m.start()].rstrip()
        if before and before[-1] not in ".!?:\"'“”*#-":
            out.add(m.group().lower())
    return out


def changes_names(a: str, b: str) -> bool:
    """True when a name in one text has no counterpart in the other (case and inflection ignored:
    "Firmware" -> "Firmwares" keeps the name; "AS Company in Gorazde" -> "AS Company" drops one)."""
    wa, wb = set(_WORDS.findall(a.lower())), set(_WORDS.findall(b.lower()))

    def lost(names: set[str], other: set[str]) -> bool:
        return any(fuzz.ratio(n, w) < _INFLECTION for n in names - other for w in [_closest(n, other)])

    return lost(_names(a), wb) or lost(_names(b), wa)


def _closest(word: str, words: set[str]) -> str:
    return max(words, key=lambda w: fuzz.ratio(word, w), default="")


def picks_prompt_option(prompt: str, completion: str) -> bool:
    """True when the completion's first line is one of the answer options the prompt lists: "it is
    not possible to tell" chosen from "-- yes; -- it is not possible to tell; -- no;" is an answer,
    not a refusal.

    >>> picks_prompt_option("-- yes; -- it is not possible to tell; -- no;", "-- it is not possible to tell")
    True
    >>> picks_prompt_option("Who wrote Hamlet?", "I cannot answer that.")
    False
    """
    first = completion.strip().split("\n", 1)[0]
    first = _OPTION_LEAD.sub("", first).rstrip(" .;:!").lower()
    words = first.split()
    return 2 <= len(words) <= _OPTION_MAX_WORDS and first in prompt.lower()


def side_of(v: Verdict) -> str | None:
    """Which side of a pair a stored verdict is about: chosen, rejected, or None for pair verdicts."""
    if v.validator == NAME:
        return None
    return "rejected" if v.validator.startswith(REJECTED_PREFIX) else "chosen"


class PairChecker:
    """Judges pairs one by one and counts what the set-level finding and the summary need."""

    def __init__(self, config: PreferenceConfig = PreferenceConfig(), severity_overrides: dict | None = None):
        self.config = config
        self._overrides = severity_overrides or {}
        self._counts = dict.fromkeys(
            (
                "pairs",
                "chosen_failed",
                "rejected_failed",
                "identical_pairs",
                "near_identical_pairs",
                "chosen_refusals",
            ),
            0,
        )

    def check(self, chosen: Result, rejected: Result) -> list[Verdict]:
        """The record's verdicts: chosen side's, rejected side's (renamed, warn), then the pair's."""
        self._counts["pairs"] += 1
        shared = {
            (v.code, v.span) for v in chosen.verdicts if v.span is not None and v.span.field in _SHARED_FIELDS
        }
        own = [
            v
            for v in rejected.verdicts
            if v.span is None or v.span.field not in _SHARED_FIELDS or (v.code, v.span) not in shared
        ]
        pair: list[Verdict] = []
        for side, verdicts in (("chosen", chosen.verdicts), ("rejected", own)):
            codes = sorted({v.code for v in verdicts if v.blocks})
            if codes:
                self._counts[f"{side}_failed"] += 1
                pair.append(
                    self._v(
                        f"pref.{side}_failed",
                        f"the {side} side fails the chain: {', '.join(codes)}"
                        + (
                            " (its verdicts are kept as warnings under rejected:*)"
                            if side == "rejected"
                            else ""
                        ),
                    )
                )
        prompt = "\n".join(m.content for m in chosen.sample.prompt if m.role == "user")
        same = self._sameness(chosen.sample.completion, rejected.sample.completion)
        if same is not None and same.code == "pref.near_identical_pair" and _case_is_the_task(prompt):
            same = None  # "alternate the case of every letter": the case difference is the signal
        if same is not None:
            pair.append(same)
            key = "identical_pairs" if same.code == "pref.identical_pair" else "near_identical_pairs"
            self._counts[key] += 1
        if is_refusal(chosen.sample.completion) and not picks_prompt_option(prompt, chosen.sample.completion):
            self._counts["chosen_refusals"] += 1
            also = " (so is the rejected side)" if is_refusal(rejected.sample.completion) else ""
            msg = f"the chosen side is a refusal{also}: the pair teaches the model to decline"
            pair.append(self._v("pref.chosen_refusal", msg))
        renamed = [
            v.model_copy(update={"validator": REJECTED_PREFIX + v.validator, "severity": "warn"}) for v in own
        ]
        return [*chosen.verdicts, *renamed, *pair]

    def finish(self) -> list[SetFinding]:
        """The set-level finding on the share of pairs that prefer a refusal, if over the limit."""
        pairs, refusals = self._counts["pairs"], self._counts["chosen_refusals"]
        share = refusals / pairs if pairs else 0.0
        limit = self.config.max_chosen_refusal_share
        if not pairs or share <= limit:
            return []
        code = "pref.chosen_refusal_share"
        return [
            SetFinding(
                code=code,
                severity=self._v(code, "").severity,
                message=f"{refusals} of {pairs} pairs ({share:.1%}) prefer a refusal (limit {limit:.0%}): "
                "DPO on them teaches over-refusal; check that these prompts should be declined",
                count=refusals,
                share=share,
                details={"pairs": pairs, "chosen_refusals": refusals, "limit": limit},
            )
        ]

    def stats(self) -> dict:
        """Counts over the pairs seen: pairs, chosen_failed, rejected_failed, identical_pairs, ..."""
        out: dict = dict(self._counts)
        out["chosen_refusal_share"] = out["chosen_refusals"] / out["pairs"] if out["pairs"] else 0.0
        return out

    def merge(self, stats: dict) -> None:
        """Add the counts of a checker that judged other pairs (its `stats()`), as if seen here."""
        for key in self._counts:
            self._counts[key] += stats[key]

    def _sameness(self, chosen: str, rejected: str) -> Verdict | None:
        """`pref.identical_pair`, `pref.near_identical_pair` or None (see the module docstring)."""
        if layout_key(chosen) == layout_key(rejected):
            msg = (
                "chosen and rejected are identical once whitespace and code comments are normalized: "
                "the pair carries no preference signal"
            )
            return self._v("pref.identical_pair", msg, score=100.0)
        a, b = normalize(chosen, "symbols"), normalize(rejected, "symbols")
        if a == b:
            if "```" in chosen or "```" in rejected:
                return None  # in code, a layout change (Python indentation) is a real edit
            msg = (
                "chosen and rejected differ only in case, punctuation or line breaks: the pair "
                "carries almost no signal"
            )
            return self._v("pref.near_identical_pair", msg, score=100.0)
        score = fuzz.ratio(a, b, score_cutoff=self.config.identical_threshold)
        if not score or _SIGNS.findall(a) != _SIGNS.findall(b):
            return None  # a changed number or operator is the signal itself (a code repair)
        if changes_names(chosen, rejected):
            return None  # a name added or dropped ("AS Company in Gorazde") changes the facts
        msg = (
            f"chosen and rejected are {score:.1f}% similar (rapidfuzz ratio) and differ only by a small "
            "word edit: check that the pair carries the preference you mean"
        )
        return self._v("pref.near_identical_pair", msg, score=score)

    def _v(self, code: str, message: str, score: float | None = None) -> Verdict:
        return apply_severity(verdict(NAME, code, message, score=score), self._overrides)
