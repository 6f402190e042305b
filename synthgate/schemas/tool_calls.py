"""How a tool call is held in a Sample: as text in the assistant turn. Pure: no I/O.

An assistant turn that calls tools (OpenAI `tool_calls`, a ShareGPT `function_call` turn) is read
into its content as one block per call, in the form the Hermes/Qwen chat templates train on:

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

Text, not a new Sample field, so a tool call flows unchanged through everything that handles
text: the store and versions, the length check (the call's tokens count toward max_length),
export (the assistant content carries the block), and the secret/PII checks (a key in the
arguments is found). The tools validator reads the blocks back with `find_tool_calls`.

>>> text = render_tool_call("add", '{"a": 2, "b": 2}')
>>> text
'<tool_call>\\n{"name": "add", "arguments": {"a": 2, "b": 2}}\\n</tool_call>'
>>> [(c.name, c.arguments) for c in find_tool_calls("Adding.\\n" + text)]
[('add', {'a': 2, 'b': 2})]
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(r"<tool_call>[ \t]*\n?(.*?)(?:\n?[ \t]*</tool_call>|\Z)", re.S)
_ARGUMENTS_KEY = re.compile(r'"(?:arguments|parameters)"\s*:\s*')


def render_tool_call(name: str, arguments: Any) -> str:
    """One call as a text block. `arguments` as the record holds them: a JSON string (OpenAI) or an
    object; a string that does not parse stays a string, so the tools validator reports it."""
    if isinstance(arguments, str):
        with contextlib.suppress(
            ValueError, RecursionError
        ):  # else kept as the raw string: tool.invalid_arguments
            arguments = json.loads(arguments)
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


def join_content(content: str, calls: list[str]) -> str:
    """A turn's text followed by its rendered calls, one blank line apart."""
    return "\n\n".join(part for part in (content, *calls) if part)


@dataclass(frozen=True)
class FoundToolCall:
    """A call block in a text: [start, end) of the whole block, the JSON body's [body_start,
    body_end), and what it holds. `error` says why the body is not a usable call (then `name` and
    `arguments` may be None); `args_start`/`args_end` locate the arguments value when found."""

    start: int
    end: int
    body_start: int
    body_end: int
    name: str | None
    arguments: Any
    error: str | None
    args_start: int | None = None
    args_end: int | None = None


def find_tool_calls(text: str) -> list[FoundToolCall]:
    """Every `<tool_call>` block in `text` (an unclosed one runs to the end), parsed.

    >>> [c.error for c in find_tool_calls("<tool_call>\\n{oops}\\n</tool_call>")]
    ['the call is not valid JSON: Expecting property name enclosed in double quotes (character 1)']
    >>> find_tool_calls("no calls here")
    []
    """
    if OPEN not in text:
        return []
    return [_parse(m) for m in _BLOCK.finditer(text)]


def _parse(m: re.Match[str]) -> FoundToolCall:
    body, b0, b1 = m.group(1), m.start(1), m.end(1)
    block = {"start": m.start(), "end": m.end(), "body_start": b0, "body_end": b1}
    try:
        data = json.loads(body)
    except RecursionError:
        msg = "the call nests arrays/objects too deep to read"
        return FoundToolCall(**block, name=None, arguments=None, error=msg)
    except ValueError as err:
        pos = getattr(err, "pos", 0)
        msg = f"the call is not valid JSON: {getattr(err, 'msg', err)} (character {pos})"
        return FoundToolCall(**block, name=None, arguments=None, error=msg)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return FoundToolCall(
            **block, name=None, arguments=None, error='the call is not a JSON object with a "name"'
        )
    key = "arguments" if "arguments" in data else "parameters"
    arguments = data.get(key, {})
    where = _ARGUMENTS_KEY.search(body)
    a0 = b0 + where.end() if where else b0
    # The arguments value runs to the body's closing brace: its own span, for the report.
    a1 = b0 + body.rstrip().rfind("}") if where else b1
    return FoundToolCall(
        **block, name=data["name"], arguments=arguments, error=None, args_start=a0, args_end=a1
    )
