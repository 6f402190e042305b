"""Conversation turns (OpenAI messages, ShareGPT turns) -> system prompt, prompt turns and the
assistant completion, with the path of every field for errors.

Shared by the formats whose records hold a conversation and by preference pairs, so a turn
is read and checked the same way wherever it appears.
"""

from __future__ import annotations

import json
from typing import Any

from synthgate.schemas.record_errors import RecordError, kind_of, require_str
from synthgate.schemas.record_metadata import REASONING_KEYS
from synthgate.schemas.tool_calls import CLOSE, OPEN, join_content, render_tool_call

_MESSAGE_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_MESSAGE_ROLES |= {"tool": "tool", "function": "tool"}
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant"}
# function_call is the assistant calling a tool (trained on); observation is the tool's answer.
_SHAREGPT_ROLES |= {"assistant": "assistant", "function_call": "assistant"}
_SHAREGPT_ROLES |= {"tool": "tool", "observation": "tool", "function": "tool"}


# One turn: (role, content, reasoning carried on the turn, path of its role for errors).
Turn = tuple[str, str, str | None, str]


def parse_turns(items: list[Any], name: str, parse: Any) -> list[Turn]:
    """Each item of the list `name` parsed by `parse` into a Turn, its path named for errors."""
    return [parse(item, f"{name}[{i}]") for i, item in enumerate(items)]


def message_parser(reasoning_field: str | None) -> Any:
    """A parser of OpenAI-style messages that also reads reasoning from `reasoning_field`."""
    if reasoning_field is None or reasoning_field in REASONING_KEYS:
        return parse_message
    return lambda m, path: parse_message(m, path, (reasoning_field, *REASONING_KEYS))


def parse_message(
    m: Any, path: str, reasoning_keys: tuple[str, ...] = ("reasoning_content", "reasoning")
) -> Turn:
    """One OpenAI-style message -> Turn; RecordError naming the path of a bad field."""
    if not isinstance(m, dict):
        raise RecordError("input.wrong_type", f"a message must be an object, got {kind_of(m)}", field=path)
    role = _role(m.get("role"), f"{path}.role", _MESSAGE_ROLES)
    content = m.get("content")
    calls = _tool_calls(m, path) if role == "assistant" else []
    if content is None and not calls:
        raise RecordError("input.missing_field", "the message has no 'content'", field=f"{path}.content")
    reasoning = next((m[k] for k in reasoning_keys if m.get(k)), None)
    reasoning = reasoning if isinstance(reasoning, str) else None
    text = _content(content, f"{path}.content") if content is not None else ""
    return role, join_content(text, calls), reasoning, f"{path}.role"


def _tool_calls(m: dict[str, Any], path: str) -> list[str]:
    """An assistant message's calls (OpenAI `tool_calls`, or the older `function_call`) as text
    blocks (see schemas.tool_calls); the arguments are checked by the tools validator."""
    if m.get("tool_calls") is not None:
        calls, where = m["tool_calls"], f"{path}.tool_calls"
        if not isinstance(calls, list):
            raise RecordError("input.wrong_type", f"must be a list, got {kind_of(calls)}", field=where)
        items = [(c, f"{where}[{i}]") for i, c in enumerate(calls)]
    elif m.get("function_call") is not None:
        items = [(m["function_call"], f"{path}.function_call")]
    else:
        return []
    out = []
    for call, where in items:
        if not isinstance(call, dict):
            raise RecordError(
                "input.wrong_type", f"a tool call must be an object, got {kind_of(call)}", field=where
            )
        fn = call.get("function", call)  # OpenAI nests {name, arguments} under "function"
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            msg = "a tool call needs a function name ({'function': {'name': ..., 'arguments': ...}})"
            raise RecordError("input.missing_field", msg, field=f"{where}.function.name")
        out.append(render_tool_call(fn["name"], fn.get("arguments", {})))
    return out


def parse_sharegpt_turn(t: Any, path: str) -> Turn:
    """One ShareGPT turn ({from, value} or {role, content}) -> Turn."""
    if not isinstance(t, dict):
        raise RecordError("input.wrong_type", f"a turn must be an object, got {kind_of(t)}", field=path)
    # Some ShareGPT exports spell turns the OpenAI way ({role, content}); accept both spellings.
    role_key, text_key = ("from", "value") if t.get("from") is not None else ("role", "content")
    if t.get(role_key) is None:
        raise RecordError("input.missing_field", "the turn has no 'from'", field=f"{path}.from")
    role = _role(t[role_key], f"{path}.{role_key}", _SHAREGPT_ROLES)
    if t.get(text_key) is None:
        raise RecordError("input.missing_field", f"the turn has no '{text_key}'", field=f"{path}.{text_key}")
    text = require_str(t[text_key], f"{path}.{text_key}")
    if t[role_key] == "function_call":  # the value is the call as JSON: {"name": ..., "arguments": ...}
        text = _sharegpt_call(text)
    return role, text, None, f"{path}.{role_key}"


def _sharegpt_call(value: str) -> str:
    try:
        call = json.loads(value)
    except (ValueError, RecursionError):
        call = None
    calls = call if isinstance(call, list) else [call]  # LLaMA-Factory allows a list of parallel calls
    if calls and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        return join_content("", [render_tool_call(c["name"], c.get("arguments", {})) for c in calls])
    # Not a readable call: kept in a block as written, so the tools validator reports it (with a span).
    return f"{OPEN}\n{value}\n{CLOSE}"


def _role(value: Any, path: str, known: dict[str, str]) -> str:
    if value is None:
        raise RecordError("input.missing_field", "the turn has no role", field=path)
    if not isinstance(value, str):
        raise RecordError("input.wrong_type", f"a role must be a string, got {kind_of(value)}", field=path)
    if value not in known:
        msg = f"unknown role {value!r}; expected one of {', '.join(known)}"
        raise RecordError("input.malformed", msg, field=path)
    return known[value]


def _content(content: Any, path: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        msg = f"content must be a string or a list of text parts, got {kind_of(content)}"
        raise RecordError("input.wrong_type", msg, field=path)
    texts = []
    for j, part in enumerate(content):
        where = f"{path}[{j}]"
        if not isinstance(part, dict) or part.get("type") != "text":
            got = part.get("type") if isinstance(part, dict) else kind_of(part)
            msg = f"only text parts ({{'type': 'text', 'text': ...}}) are supported, got {got!r}"
            raise RecordError("input.wrong_type", msg, field=where)
        texts.append(require_str(part.get("text"), f"{where}.text"))
    return "".join(texts)


def with_system(system: str | None, turns: list[Turn]) -> list[Turn]:
    """`turns` with a leading system turn when `system` is given."""
    return [("system", system, None, "system"), *turns] if system else turns


def split_turns(turns: list[Turn], root: str) -> tuple[str | None, list[dict[str, str]], str, str | None]:
    """Leading system turns -> system prompt; last turn -> completion (must be the assistant's)."""
    n_system = 0
    while n_system < len(turns) and turns[n_system][0] == "system":
        n_system += 1
    system = "\n\n".join(t[1] for t in turns[:n_system] if t[1]) or None
    rest = turns[n_system:]
    for role, _, _, path in rest:
        if role == "system":
            msg = "a system turn may only open the conversation"
            raise RecordError("input.malformed", msg, field=path)
    if not rest:
        raise RecordError("input.no_completion", "the conversation has no assistant turn", field=root)
    role, completion, reasoning, path = rest[-1]
    if role != "assistant":
        msg = f"the last turn is the {role}'s; it must be the assistant's answer to train on"
        raise RecordError("input.no_completion", msg, field=path)
    prompt = [{"role": r, "content": c} for r, c, _, _ in rest[:-1]]
    if not any(m["role"] == "user" for m in prompt):
        raise RecordError("input.missing_field", "no user turn before the completion", field=root)
    return system, prompt, completion, reasoning
