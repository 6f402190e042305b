"""Assistant boilerplate by meaning: the assistant disclaiming its own nature or abilities.

Not a phrase list but a small grammar, so new wordings of the same idea are caught:

- SELF, the assistant naming itself a machine: "as a/an <machine>" or "being a/an <machine>"
  (then a first-person word in the same sentence: "As a large language model, GPT-3 ..." is about
  someone else), or "I am/I'm (just|only|merely|simply) a/an <machine>". A <machine> is up to
  three modifiers ("text-based", "large", "Google", "OpenAI's") before a head: AI, artificial
  intelligence, language model, LLM, chatbot, or a generic head (assistant, model, program,
  system, bot, machine, entity) with a machine-ish modifier ("virtual assistant", "computer
  program", "AI model"). The noun phrase must end there: "As an AI researcher, I ..." and
  "I'm an AI enthusiast" name a person.
- Then a DISCLAIMER in the rest of the sentence or in the next one ("I don't", "cannot", "unable",
  "not capable", "lack", "no personal ...") or a NATURE statement ("I am designed/programmed to",
  "I rely on", "my training/programming/capabilities", "my users"). "as a (large) language model"
  and "I'm just/only an AI" disclaim by themselves. "As an AI assistant, I would first ask the
  customer ..." (role play the prompt asked for) has neither and passes.
- SELF by the virtues of a chat model's system prompt, a self-description by itself: "As a helpful
  and respectful assistant, I ...", "As a responsible and ethical AI language model, I ..." (one to
  four of helpful, honest, respectful, responsible, ethical, safe, friendly, socially unbiased,
  culturally sensitive, ... before assistant/AI/language model/model/chatbot). A person's role has
  a job word: "As a helpful sales assistant, I ..." passes.
- The Llama-2 chat system prompt narrated: "I'm here to help you in a safe and respectful manner"
  (two virtues at least), "my responses are safe, respectful, and free from harmful content",
  "socially unbiased and positive".
- DISCLAIMERS that need no SELF: "I cannot browse/access the internet", "I don't have access to
  real-time/external/current ...", "my knowledge cutoff", "as of my last update", "my training
  data only goes up to", "I don't have personal opinions/feelings/experiences", "I don't have
  emotions or a physical body", "I can't create/see images/charts/graphics".

Never flagged: text inside code or math (`ai_model = ...`), inside quotation marks (a character
in a story speaking), third-person statements ("an AI model cannot ..." in an explanation of ML,
"Language Models are Few-Shot Learners"), and, when the prompt asks for fiction or role play
(story, poem, dialogue, "imagine you are", "from the perspective of") about an AI, robot or
machine, every SELF-based match: a narrator who is an AI is the story. A role-play prompt about
anything else ("Imagine you are a tourist in Rome") answered "As an AI, I do not possess personal
preferences" is boilerplate. Fixed disclaimers (knowledge cutoff, browsing) are never
fiction and are still flagged there.

Speed: the text is lower-cased once and a handful of literal anchors ("as a", "i am", "i can",
"i do", "my knowledge", ...) are found with `str.find`; each regex runs anchored at an anchor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from synthgate.validators.text import lower_same_length

# ---- SELF: the assistant naming itself a machine ------------------------------------------------
_STRONG_HEAD = r"(?:AI|A\.I\.|artificial[ -]intelligence(?: \(AI\))?|(?:large )?language model|LLM|chat ?bot)"
_GENERIC_HEAD = r"(?:assistant|model|program|system|bot|machine|entity|agent|tool|software)"
_MACHINE_MOD = (
    r"(?:AI|A\.I\.|artificial[ -]intelligence|language|text-based|text|virtual|digital|computer|"
    r"conversational|chat|software|automated|machine[ -]learning|neural|generative|OpenAI(?:['’]s)?|"
    r"GPT(?:-\d)?|computer-based|AI-powered|AI-based)"
)
# Modifier words: never function words, so "as a result of AI" names no machine.
_MOD = (
    r"(?:(?!(?:of|the|for|in|on|at|to|and|or|with|by|from|about|into|an?|that|this|result|part|way|"
    r"matter|consequence|rule|whole|field|form)\b)[\w'’.-]+ ){0,3}?"
)
_MACHINE = (
    rf"(?:{_MOD}{_STRONG_HEAD}|{_MOD}{_MACHINE_MOD} {_GENERIC_HEAD}"
    rf"|(?:{_MOD})?{_MACHINE_MOD}-{_GENERIC_HEAD})"
)
# The noun phrase ends: punctuation, a clause word, or a participle ("developed by", "trained on").
_END = (
    r"(?=\s*(?:[,;:.!?)(—–]|$)|\s+(?:and|so|but|that|which|who|with|without|like|here|"
    r"I|I['’]m|I['’]ve|I['’]d|I['’]ll|my|me|developed|created|trained|built|made|designed|powered|"
    r"programmed|by|from|not|only|therefore|thus|though|however|myself|there|it|this|can|cannot|"
    r"can['’]t|do|don['’]t|does|am|have|lack|rely|do)\b)"
)
_SELF_AS = re.compile(rf"\b(?:as|being) an? (?P<m>{_MACHINE}){_END}", re.I)
_SELF_IAM = re.compile(
    rf"\bI(?: am|['’]m)(?: (?P<just>just|only|merely|simply|but|nothing more than))?"
    rf" an? (?P<m>{_MACHINE}){_END}",
    re.I,
)
# The assistant labelling itself by the virtues of a chat model's system prompt ("As a helpful and
# respectful assistant", "As a responsible and ethical AI language model", Llama-2 chat's voice):
# a self-description by itself. A person's role has a job word ("As a helpful sales assistant").
_VALUE = (
    r"(?:helpful|harmless|honest|respectful|responsible|ethical|safe|trustworthy|reliable|caring|"
    r"considerate|friendly|polite|positive|unbiased|socially (?:unbiased|responsible|conscious)|"
    r"culturally sensitive|inclusive)"
)
_SELF_VALUE = re.compile(
    rf"\bas an? (?P<m>{_VALUE}(?:,? (?:and )?{_VALUE}){{0,3}} (?:(?:AI|A\.I\.) )?"
    rf"(?:assistant|language model|AI|A\.I\.|chat ?bot|model)){_END}",
    re.I,
)
_LANGUAGE_MODEL = re.compile(r"language model|\bLLM\b", re.I)
_SPEAKER = re.compile(r"[^.!?\n]{0,80}?\b(?:I|my|me)\b", re.I)
_NEGATION = (
    r"(?:don['’]t|do not|doesn['’]t|does not|cannot|can['’]t|can not|am not|['’]m not|unable|not able|"
    r"not capable|incapable|lack|have no|has no|no (?:personal|physical|access|ability|emotions|"
    r"feelings|opinions|way|body|consciousness|real)|only (?:have|able|provide|process|access|know)|"
    r"limited to|not (?:designed|programmed|possess|have))"
)
_NATURE = (
    r"(?:(?:am|was|['’]ve been|have been|['’]m) (?:designed|programmed|trained|built|created|developed|"
    r"made) (?:to|by|on|for|with)|\brely on|\bexist\b|\bmy (?:programming|training|knowledge|"
    r"capabilit|abilit|purpose|creators?|developers?|algorithms?|responses)|\b(?:my|with) users?\b)"
)
_DISCLAIMS = re.compile(rf"\b(?:{_NEGATION}|{_NATURE})", re.I)
# "As an AI, I can suggest ..." / "As an AI assistant, I'd be happy to help": the self-label opens a
# service formula, not a role the answer plays ("As an AI assistant, I would first ask ...").
_SERVICE = re.compile(
    r",?\s*I(?: can (?:only )?(?:suggest|recommend|offer|provide|give|help|assist|try)"
    r"|['’]d be (?:more than |very )?(?:happy|glad|delighted) to|['’]m (?:happy|glad|here) to"
    r"| am (?:happy|glad|here) to)\b",
    re.I,
)
# The next sentence may carry the disclaimer ("As an AI, I can suggest ideas. However, I'm unable to
# draw."), but only when it is the assistant speaking of itself.
_NEXT_SELF = re.compile(r"\s*(?:(?:However|But|Unfortunately|That said|Therefore|So),? )?I\b", re.I)

# ---- disclaimers that need no SELF -------------------------------------------------------------
# Spaces as "\\ ": these go into a verbose (re.X) pattern.
_CANT = (
    r"I(?:\ cannot|\ can['’]t|\ can\ not|\ am\ unable\ to|['’]m\ unable\ to|\ am\ not\ able\ to"
    r"|['’]m\ not\ able\ to)"
)
_DONT_HAVE = r"I\ (?:don['’]t|do\ not)\ (?:have|possess)"
_VALUE_X = _VALUE.replace(" ", "\\ ")
# The Llama-2 chat system prompt narrated: "I'm here to help you in a safe and respectful manner",
# "ensuring that my responses are safe, respectful, and free from harmful content", "socially
# unbiased and positive" (its own words). Two virtues at least: "in a safe manner" is advice.
_FIXED = re.compile(
    rf"""{_CANT}\ (?:browse|access|search|surf|connect\ to)\ (?:the\ )?(?:internet|web|online)\b
    | {_CANT}\ (?:see|view|perceive|display|draw|create|generate|produce|show|render|design|open|play|
        watch|listen\ to|hear)\ (?:[\w-]+\ ){{0,3}}?(?:images?|pictures?|photos?|photographs?|visuals?|
        graphics?|graphical|charts?|drawings?|paintings?|videos?|audio|sounds?|diagrams?|logos?)\b
    | {_DONT_HAVE}\ (?:any\ )?(?:real-time|live|current|up-to-date)\ (?:access|data|information)\b
    | {_DONT_HAVE}\ (?:the\ ability\ to\ access|access\ to)\ (?:the\ )?(?:real-time|live|current|
        up-to-date|internet|web|external|online|news|websites?|the\ article|articles|browsing)\b
    | {_DONT_HAVE}\ (?:any\ )?(?:personal|my\ own|human|subjective)\ (?:opinions?|feelings|emotions|
        beliefs|preferences|experiences|views|tastes|memories|thoughts)\b
    | {_DONT_HAVE}\ (?:any\ )?(?:emotions|feelings|opinions)\ (?:or|and|like)\ (?:a\ )?(?:personal|
        emotions|feelings|opinions|preferences|beliefs|consciousness|a\ body|physical)\b
    | {_DONT_HAVE}\ (?:a\ )?(?:consciousness|physical\ (?:body|form|presence)|a\ body)\b
    | \bmy\ (?:knowledge|training(?:\ data)?)\ cut-?off\b
    | \bas\ of\ my\ (?:last\ )?(?:knowledge\ |training\ )?(?:update|cutoff|cut-off)\b
    | \bmy\ (?:training\ data|knowledge(?:\ base)?|training|information)\ (?:only\ )?(?:goes|extends|runs|
        dates|is\ current)\ (?:back\ )?(?:up\ )?(?:to|until|through|as\ of)\b
    | I(?:['’]m|\ am)\ (?:here|programmed|designed)\ to\ (?:assist|help|provide|answer)[^.!?\n]{{0,40}}?
        (?:safe|helpful|respectful|honest)(?:,?\ (?:and\ )?(?:safe|helpful|respectful|honest|positive|
        accurate|socially\ unbiased)){{2}}
    | \bI\ (?:was|have\ been)\ (?:only\ )?trained\ on\ (?:data|information)\ (?:up\ to|until|through)\b
    | I(?:['’]m|\ am)\ here\ to\ (?:help|assist)[^.!?\n]{{0,60}}?\ in\ an?\ {_VALUE_X}
        (?:,?\ (?:and\ )?{_VALUE_X}){{1,3}}\ (?:manner|way|fashion)\b
    | \bmy\ (?:responses|answers|replies)\ (?:are|is|will\ be|remain|should\ be)\ (?:always\ )?{_VALUE_X}
        (?:,?\ (?:and\ )?(?:{_VALUE_X}|free\ (?:from|of)\ (?:any\ )?harmful)){{1,3}}
    | \bsocially\ unbiased\ and\ positive\b
    """,
    re.I | re.X,
)

# Lower-case literal anchors: every match starts at one of them ("as of my" is tried 6 characters
# before a "my "). Six C-level finds are all a text without them costs.
_ANCHORS = ("as a", "being a", "i ", "i'm", "i’m", "my ", "socially unbiased")
_SELF_START = ("as a", "being a", "i am", "i'm", "i’m")
_FIXED_START = ("i ", "i'm", "i’m", "my ", "socially unbiased")
_FICTION = re.compile(
    r"\b(?:stor(?:y|ies)|poem|poetry|narrat|dialog|script|screenplay|role[- ]?play|pretend|fiction|"
    r"imagine (?:you|that you|yourself)|perspective|point of view|in the voice of|monologue|diary)",
    re.I,
)
_AI_TOPIC = re.compile(r"\b(?:AI|A\.I\.|artificial intelligence|robots?|androids?|chat ?bots?|machines?|"
                       r"computers?|assistants?|language models?|cyborgs?)\b", re.I)  # fmt: skip


def is_ai_fiction_prompt(prompt: str) -> bool:
    """True when the prompt asks for a story, poem, dialogue or role play about or by an AI.

    >>> is_ai_fiction_prompt("Write a short story narrated by a robot.")
    True
    >>> is_ai_fiction_prompt("Imagine you are a tourist in Rome, what would be your favorite sights?")
    False
    """
    return _FICTION.search(prompt) is not None and _AI_TOPIC.search(prompt) is not None


def find_boilerplate(
    text: str, *, fiction: bool = False, skip: Callable[[int], bool] | None = None
) -> list[tuple[int, int]]:
    """[start, end) of each assistant disclaimer in `text`.

    `fiction`: the prompt asks for fiction or role play (only fixed disclaimers count);
    `skip(pos)`: True where a hit is not prose (code, math).

    >>> t = "As a text-based AI, I don't have the ability to see images."
    >>> [t[a:b] for a, b in find_boilerplate(t)]
    ['As a text-based AI']
    >>> find_boilerplate("As an AI researcher, I cannot stress this enough.")
    []
    """
    low = lower_same_length(text)
    found: dict[int, int] = {}
    reach: list[tuple[int, int]] = []  # SELF hit -> end of the sentence(s) its disclaimer is in
    fixed: list[int] = []
    for pos in _anchors(low):
        if not fiction and low.startswith(_SELF_START, pos):
            span = _self_at(text, pos)
            if span is not None:
                found.setdefault(span[0], span[1])
                reach.append((span[0], _sentence_end(text, _sentence_end(text, span[1], 200) + 1, 200)))
                continue
        if low.startswith(_FIXED_START, pos):
            fixed.append(pos)
    for pos in fixed:
        m = _FIXED.match(text, pos)
        if m is None and pos >= 6 and low.startswith("as of ", pos - 6):
            m = _FIXED.match(text, pos - 6)
        if m is not None and not any(a <= m.start() <= b for a, b in reach):  # one finding per disclaimer
            found.setdefault(m.start(), m.end())
    return sorted(
        (a, b) for a, b in found.items() if not _quoted(text, a) and not (skip is not None and skip(a))
    )


def _anchors(low: str) -> list[int]:
    out: set[int] = set()
    for anchor in _ANCHORS:
        pos = low.find(anchor)
        while pos >= 0:
            out.add(pos)
            pos = low.find(anchor, pos + 1)
    return sorted(out)


def _self_at(text: str, pos: int) -> tuple[int, int] | None:
    m = _SELF_VALUE.match(text, pos)
    if m is not None and _SPEAKER.match(text, m.end()):
        return m.span()
    m = _SELF_AS.match(text, pos)
    if m is not None:
        if not _SPEAKER.match(text, m.end()):
            return None  # "As a large language model, GPT-3 ..." speaks of someone else
        if (
            _LANGUAGE_MODEL.search(m.group("m"))
            or _SERVICE.match(text, m.end())
            or _disclaims_after(text, m.end())
        ):
            return m.span()
        return None
    m = _SELF_IAM.match(text, pos)
    if m is not None and (
        m.group("just") or _LANGUAGE_MODEL.search(m.group("m")) or _disclaims_after(text, m.end())
    ):
        return m.span()
    return None


def _disclaims_after(text: str, end: int) -> bool:
    """A disclaimer or nature statement in the rest of the sentence, or in the next one when the
    assistant is its subject."""
    stop = _sentence_end(text, end, 200)
    if _DISCLAIMS.search(text, end, stop):
        return True
    nxt = _NEXT_SELF.match(text, stop + 1) if stop < len(text) and text[stop] in ".!?" else None
    return (
        nxt is not None
        and _DISCLAIMS.search(text, nxt.start(), _sentence_end(text, nxt.end(), 200)) is not None
    )


def _sentence_end(text: str, start: int, limit: int) -> int:
    end = min(len(text), start + limit)
    for i in range(start, end):
        if text[i] in ".!?\n" and (i + 1 >= len(text) or text[i + 1].isspace()):
            return i
    return end


def _quoted(text: str, pos: int) -> bool:
    """Inside quotation marks opened earlier in the paragraph: a character speaking."""
    before = text[text.rfind("\n", 0, pos) + 1 : pos]
    return before.count('"') % 2 == 1 or before.count("“") > before.count("”")
