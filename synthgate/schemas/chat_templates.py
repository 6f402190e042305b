"""Pre-rendered chat-template strings -> turns, so every check sees the system prompt. Pure: no I/O.

Datasets often store a prompt, or a whole record, as one string already rendered with a chat
template. The families read here are ChatML (`<|im_start|>role ... <|im_end|>`), Llama 3
(`<|start_header_id|>role<|end_header_id|>`), Gemma (`<start_of_turn>user|model`), Mistral /
Llama 2 (`[INST] ... [/INST]`, with an optional `<<SYS>>` block) and the Alpaca prompt
(`### Instruction:` / `### Input:` / `### Response:`, any preamble before it being the system
prompt). Only the markers that delimit turns are consumed: the opening BOS, each turn's header and
its one closing end-of-turn token (plus a final EOS). Any other special token stays in the text,
so the artifacts validator still reports it (`artifact.special_token`).

Detection is a few substring tests, and parsing one regex split, so it costs little per record.

>>> parse_chat_template("<|im_start|>system\\nBe brief.<|im_end|>\\n<|im_start|>user\\nHi?<|im_end|>\\n"
...                     "<|im_start|>assistant\\nHello.<|im_end|>\\n").turns
[('system', 'Be brief.'), ('user', 'Hi?'), ('assistant', 'Hello.')]
>>> parse_chat_template("<s>[INST] 2+2? [/INST] 4</s>").turns
[('user', '2+2?'), ('assistant', '4')]
>>> parse_chat_template("just a sentence") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEMPLATES = ("chatml", "llama3", "gemma", "mistral", "alpaca")


@dataclass(frozen=True)
class ParsedTemplate:
    """The template family recognised and its turns as (role, content); roles are system, user,
    assistant or tool. A prompt rendered with an open assistant header ends on a user turn."""

    template: str
    turns: list[tuple[str, str]]


_BOS = ("<|begin_of_text|>", "<bos>", "<s>")
_EOS = ("<|endoftext|>", "<|end_of_text|>", "<eos>", "</s>")
_ROLE_NAMES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "model": "assistant",
    "gpt": "assistant",
    "tool": "tool",
    "ipython": "tool",
    "function": "tool",
}

# Each family: a substring that says it is there, a regex whose matches open a turn (group 1: the
# role), and the token that closes a turn.
_CHATML = re.compile(r"<\|im_start\|>[ \t]*(\w+)[ \t]*\n?")
_LLAMA3 = re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\n{0,2}")
_GEMMA = re.compile(r"<start_of_turn>(\w+)\n?")
_INST = re.compile(r"\[INST\]|\[/INST\]")
_SYS = re.compile(r"^\s*<<SYS>>\n?(.*?)\n?<</SYS>>\s*", re.S)
_ALPACA = re.compile(r"^### (Instruction|Input|Response):[ \t]*\n?", re.M)


def parse_chat_template(text: str) -> ParsedTemplate | None:
    """The turns of a pre-rendered chat-template string, or None when `text` holds no known template.

    >>> parse_chat_template("<start_of_turn>user\\nHi<end_of_turn>\\n<start_of_turn>model\\n").turns
    [('user', 'Hi'), ('assistant', '')]
    >>> parse_chat_template("### Instruction:\\nAdd 2 and 2.\\n\\n### Response:\\n4").turns
    [('user', 'Add 2 and 2.'), ('assistant', '4')]
    """
    if "<|im_start|>" in text:
        return _headed("chatml", text, _CHATML, "<|im_end|>")
    if "<|start_header_id|>" in text:
        return _headed("llama3", text, _LLAMA3, "<|eot_id|>")
    if "<start_of_turn>" in text:
        return _headed("gemma", text, _GEMMA, "<end_of_turn>")
    if "[INST]" in text and "[/INST]" in text:
        return _mistral(text)
    if "### Instruction:" in text:
        return _alpaca(text)
    return None


def _headed(name: str, text: str, header: re.Pattern[str], end: str) -> ParsedTemplate | None:
    matches = list(header.finditer(text))
    if not matches or _strip_bos(text[: matches[0].start()]).strip():
        return None  # text before the first turn: not a rendered conversation
    turns = []
    for i, m in enumerate(matches):
        role = _ROLE_NAMES.get(m.group(1).lower())
        if role is None:
            return None
        stop = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        turns.append((role, _close(text[m.end() : stop], end, last=i + 1 == len(matches))))
    return ParsedTemplate(name, turns)


def _mistral(text: str) -> ParsedTemplate | None:
    body = _strip_bos(text.lstrip())
    if not body.startswith("[INST]"):
        return None
    turns: list[tuple[str, str]] = []
    parts = _INST.split(body)[1:]  # text after each marker, in order: user, assistant, user, ...
    markers = _INST.findall(body)
    for i, (marker, part) in enumerate(zip(markers, parts, strict=True)):
        last = i + 1 == len(parts)
        if marker == "[INST]":
            if turns and turns[-1][0] == "user":
                return None  # two [INST] in a row: not a conversation
            content = _strip_bos(part.strip())
            if not turns and (sys := _SYS.match(content)):
                turns.append(("system", sys.group(1).strip()))
                content = content[sys.end() :]
            turns.append(("user", content.strip()))
        else:
            if not turns or turns[-1][0] != "user":
                return None
            content = part.rstrip()
            if not last and content.endswith("<s>"):  # the next exchange's BOS
                content = content[: -len("<s>")]
            content = _close(content, "</s>", last=last)
            turns.append(("assistant", content.strip()))
    return ParsedTemplate("mistral", turns)


def _alpaca(text: str) -> ParsedTemplate | None:
    matches = list(_ALPACA.finditer(text))
    if not matches or matches[0].group(1) != "Instruction":
        return None
    turns: list[tuple[str, str]] = []
    preamble = _strip_bos(text[: matches[0].start()]).strip()
    if preamble:  # "Below is an instruction that describes a task..." acts as the system prompt
        turns.append(("system", preamble))
    user: list[str] = []
    for i, m in enumerate(matches):
        stop = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        content = text[m.end() : stop].strip()
        if m.group(1) in ("Instruction", "Input"):
            if m.group(1) == "Instruction" and user:
                return None  # a second instruction before any response
            if content:
                user.append(content)
        else:
            if not user:
                return None
            turns.append(("user", "\n\n".join(user)))
            user = []
            turns.append(("assistant", _close(content, "</s>", last=i + 1 == len(matches)).strip()))
    if user:
        turns.append(("user", "\n\n".join(user)))
    return ParsedTemplate("alpaca", turns)


def _close(content: str, end: str, *, last: bool) -> str:
    """A turn's text without its one closing token (and the final EOS after the last turn)."""
    content = content.rstrip()
    if last:
        for eos in _EOS:
            if content.endswith(eos) and eos != end:
                content = content[: -len(eos)].rstrip()
                break
    if content.endswith(end):
        content = content[: -len(end)]
    return content.rstrip("\n")


def _strip_bos(text: str) -> str:
    for bos in _BOS:
        if text.startswith(bos):
            return text[len(bos) :]
    return text
