"""System-prompt and instruction leakage: the completion recites, quotes or narrates its prompt.

The seed failure: a teacher's thinking leaked into the targets and every answer opened by reciting
the system prompt, so the student learned to parrot it. Sources are the record's system prompt and
each of `extra_texts` (configured instructions, few-shot text). Findings, each with a span into
the completion and a rapidfuzz score (0-100):

- `leak.system_prompt_verbatim` (`leak.configured_text` for extra texts): a run of the source's
  words in order (case and punctuation ignored) that is the whole source, or at least
  `verbatim_min_chars` characters of it, or 80% of a source shorter than that. The run needs at
  least `min_rule_words` words: a short prompt's few words ("Be concise and accurate") are ordinary
  prose. Runs broken by at most two edited words are joined.
- `leak.system_prompt_sentence` (`leak.configured_text`): one rule sentence of the source
  (`min_rule_words`+ words, 3+ content words) exactly or lightly edited: at most one word in ten
  missing or changed ("doesn't" is "does not"), `fuzz.ratio` of the words >= `sentence_threshold`,
  3+ content words shared. So "The provided context does not contain enough information to answer"
  under "If the context does not contain enough information, say so." (no "if", no "say so") is
  not a leak: sharing a rule's vocabulary is not reciting it.
- `leak.system_prompt_paraphrase`: a sentence narrating its instructions ("As instructed, ...",
  "Following the system prompt", "My instructions say", "I will only use the provided context")
  that also shares 2+ content words with the sources, so "take it as instructed by your doctor"
  is left alone. Off with `paraphrase: false`.

Text that also appears in the user turns (a quoted paper title) is never a leak, and a region
reported once is not reported again under another code.

Speed: sources are prepared once per distinct text (lru_cache; datasets mostly share one system
prompt). A clean record costs one lower(), one bytes translate + split and two C-level set passes:
the completion's word `shingle_words`-grams against the sources', and its words against the
narration trigger words (about 25-30 µs for 1,800 characters). A rule of 6+ words with one edited word
keeps 3 words in a row, so 3-grams never screen out a light edit. Only candidates get aligned
(rapidfuzz, on a few words around each shared n-gram); only trigger words get the narration regex,
on a window around them; character offsets are computed for findings alone.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rapidfuzz import fuzz

from synthgate.schemas.chain_config import LeakageConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict
from synthgate.validators.leakage.match import Finding, Source, find_recitations, prepare_source, source_grams
from synthgate.validators.leakage.narration import GATE_WORDS, narrations
from synthgate.validators.leakage.words import META_WORDS, char_spans, ngrams, split_words, stem_keys
from synthgate.validators.text import lower_same_length, sentence_spans

_MIN_PARAPHRASE_OVERLAP = 2
_WINDOW = 60  # characters around a narration trigger word searched with the regex
_TRIGGERS = META_WORDS | {b"provided", b"given", b"supplied"}
_GATES = _TRIGGERS | GATE_WORDS
# Narration of one's own instructions. Mentions of instructions or guidelines in general ("follow the
# instructions in the README", "according to the guidelines in the paper") are not narration; only
# "my ..." and "the system prompt" are, or the instructions telling "me".
_NARRATION = re.compile(
    r"""\bas\s+(?:i(?:\s+(?:was|am|have\s+been)|[’']ve\s+been|[’']m)\s+)?(?:instructed|directed|told)\b
    | \b(?:per|following|according\s+to|in\s+(?:line|accordance|keeping)\s+with|consistent\s+with
         |as\s+(?:stated|specified|required|outlined|described|set\s+out)\s+(?:in|by))\s+
      (?:(?:the|your)\s+system\s+(?:prompt|message|instructions?)
         |my\s+(?:system\s+(?:prompt|message|instructions?)|instructions?|guidelines?|rules|directives?))\b
    | \bmy\s+(?:instructions?|guidelines?|rules|directives?|system\s+(?:prompt|message))\b
    | \bthe\s+system\s+(?:prompt|message)\s+(?:says?|states?|tells?|requires?|asks?|specif(?:y|ies)
         |instructs?|directs?|wants?)\b
    | \bthe\s+(?:instructions?|guidelines?|rules)\s+
      (?:tells?|asks?|requires?|wants?|directs?|instructs?)\s+me\b
    | \bi(?:\s+(?:was|am|have\s+been)|[’']ve\s+been|[’']m)\s+(?:told|instructed|directed|asked|required
         |supposed)\s+to\b
    | \bi(?:\s+(?:will|must|should|can|may|shall|am\s+(?:only\s+)?(?:allowed|permitted)\s+to)
         |[’']ll)\s+only\s+
      (?:use|rely\s+on|answer\s+(?:from|using|based\s+on)|draw\s+on|refer\s+to|consult)\s+(?:the\s+)?
      (?:provided|given|supplied)\s+(?:context|passages?|documents?|sources?|information|text)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TRAILING = ".!?\"')]”’"


class LeakageValidator(Validator):
    """Fails completions that recite, quote or narrate the system prompt or configured texts."""

    name: ClassVar[str] = "leakage"

    def __init__(self, config: LeakageConfig = LeakageConfig()) -> None:  # noqa: B008 (frozen model)
        self.config = config
        self._extras = tuple(t for t in config.extra_texts if t.strip())

    def check(self, sample: Sample) -> Result:
        """Every leaked region of the completion, each with a span and a score; never repairs."""
        texts = ((sample.system_prompt,) if sample.system_prompt else ()) + self._extras
        if not texts:
            return Result(sample)
        cfg = self.config
        words = split_words(sample.completion)
        grams = source_grams(texts, cfg.shingle_words, cfg.min_rule_words).intersection(
            ngrams(words, cfg.shingle_words)
        )
        gates = _GATES.intersection(words) if cfg.paraphrase else frozenset()  # one pass over the words
        narrated = not _TRIGGERS.isdisjoint(gates)
        self_told = not GATE_WORDS.isdisjoint(gates)
        if not (grams or narrated or self_told):
            return Result(sample)
        out = self._verdicts(sample, texts, words, grams, narrated) if grams or narrated else []
        if self_told:
            out = _restated(sample.completion, texts, out)
        return Result(sample, out)

    def _verdicts(
        self,
        sample: Sample,
        texts: tuple[str, ...],
        words: list[bytes],
        grams: frozenset[tuple[bytes, ...]],
        narrated: bool,
    ) -> list[Verdict]:
        cfg = self.config
        sources = [prepare_source(t, cfg.shingle_words, cfg.min_rule_words) for t in texts]
        first_extra = len(texts) - len(self._extras)
        user: bytes | None = None
        found: list[tuple[Finding, int]] = []
        for k, src in enumerate(sources if grams else []):
            for f in find_recitations(src, words, grams, cfg):
                if any(f.start <= g.end and g.start <= f.end for g, _ in found):
                    continue
                if user is None:  # quoting the user's own text is no leak
                    turns = "\n".join(m.content for m in sample.prompt if m.role == "user")
                    user = b" %s " % b" ".join(split_words(turns))
                if b" %s " % b" ".join(words[f.start : f.end + 1]) not in user:
                    found.append((f, k))
        out: list[Verdict] = []
        if found:
            spans = char_spans(sample.completion, upto=max(f.end for f, _ in found))
            for f, k in found:
                extra = None if k < first_extra else k - first_extra
                out.append(self._verdict(sample.completion, spans, f, extra))
        if narrated:
            taken = [(v.span.start, v.span.end) for v in out if v.span]
            out += _paraphrases(sample.completion, words, sources, taken)
        return sorted(out, key=lambda v: v.span.start if v.span else 0)

    def _verdict(
        self, completion: str, spans: list[tuple[int, int]], f: Finding, extra: int | None
    ) -> Verdict:
        """`extra`: which configured text leaked (0-based); None for the system prompt."""
        start, end = spans[f.start][0], _extend(completion, spans[f.end][1])
        quoted = _snippet(completion[start:end])
        source = "the system prompt" if extra is None else f"configured text #{extra + 1}"
        if f.kind == "verbatim":
            message = f"the completion repeats {f.what} of {source} verbatim: {quoted}"
            code = "leak.system_prompt_verbatim"
        else:
            message = f"the completion repeats a rule of {source} ({_snippet(f.what)}): {quoted}"
            code = "leak.system_prompt_sentence"
        if extra is not None:
            code = "leak.configured_text"
        return verdict(self.name, code, message, span=Span(start=start, end=end), score=round(f.score, 1))


def _paraphrases(
    completion: str, words: list[bytes], sources: list[Source], taken: list[tuple[int, int]]
) -> list[Verdict]:
    """Sentences that narrate their instructions and share their vocabulary."""
    low = lower_same_length(completion)
    starts: set[int] = set()
    for trigger in _TRIGGERS.intersection(words):
        at = low.find(trigger.decode())
        while at >= 0:
            window = max(0, at - _WINDOW), at + _WINDOW
            starts.update(m.start() for m in _NARRATION.finditer(completion, *window))
            at = low.find(trigger.decode(), at + 1)
    vocab = frozenset().union(*(s.vocab for s in sources))
    rules = [r.norm for s in sources for r in s.rules]
    out: list[Verdict] = []
    for at in sorted(starts):
        a, b = _sentence_around(completion, at)
        if any(a < y and x < b for x, y in taken):
            continue
        sentence = split_words(completion[a:b])
        if len(vocab.intersection(stem_keys(sentence))) < _MIN_PARAPHRASE_OVERLAP:
            continue
        norm = b" ".join(sentence).decode(errors="replace")
        score = max((fuzz.token_set_ratio(norm, r) for r in rules), default=0.0)
        taken.append((a, b))
        phrase = _NARRATION.match(completion, at)
        said = f"{phrase.group() if phrase else ''!r}): {_snippet(completion[a:b])}"
        message = f"the completion narrates its instructions ({said}"
        code = "leak.system_prompt_paraphrase"
        out.append(
            verdict(LeakageValidator.name, code, message, span=Span(start=a, end=b), score=round(score, 1))
        )
    return out


def _restated(completion: str, texts: tuple[str, ...], found: list[Verdict]) -> list[Verdict]:
    """`found` plus first-person sentences restating 2+ rules in other words (leakage.narration)."""
    taken = [(v.span.start, v.span.end) for v in found if v.span]
    out = list(found)
    for a, b, rules in narrations(completion, texts):
        if any(a < y and x < b for x, y in taken):
            continue
        said = "; ".join(_snippet(r, 40) for r in rules[:3])
        quoted = _snippet(completion[a:b])
        message = f"the completion restates {len(rules)} rules of its instructions ({said}): {quoted}"
        out.append(
            verdict(
                LeakageValidator.name, "leak.system_prompt_paraphrase", message, span=Span(start=a, end=b)
            )
        )
    return sorted(out, key=lambda v: v.span.start if v.span else 0)


def _sentence_around(text: str, at: int) -> tuple[int, int]:
    """The sentence holding character `at` (searched within a few hundred characters)."""
    lo = max(0, at - 400)
    for a, b in sentence_spans(text[lo : at + 400]):
        if a + lo <= at < b + lo:
            return a + lo, b + lo
    return at, at + 1


def _extend(text: str, end: int) -> int:
    """Include the punctuation that closes the leaked sentence."""
    while end < len(text) and text[end] in _TRAILING:
        end += 1
    return end


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
