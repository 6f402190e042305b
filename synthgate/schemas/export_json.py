"""Generate the committed JSON Schemas in synthgate/schemas/json/ from the pydantic models.

`python -m synthgate.schemas.export_json` rewrites them; `--check` only reports stale files (exit 1).
The record-format models below describe the four input formats synthgate.schemas.adapters reads;
a test keeps their keys equal to what the adapters accept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict

JSON_DIR = Path(__file__).resolve().parent / "json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _RecordMetadata(BaseModel):
    """Keys any record may carry besides its format's own; others need --allow-extra-fields."""

    model_config = ConfigDict(extra="forbid")

    id: str | int | None = Field(default=None, description="The record's own id, kept as input_id.")
    task_type: str | None = Field(default=None, description="Task type (grounded, refusal, ...).")
    task: str | None = Field(default=None, description="Alias of task_type.")
    type: str | None = Field(default=None, description="Alias of task_type.")
    category: str | None = Field(default=None, description="Alias of task_type.")
    reasoning: str | None = Field(default=None, description="Reasoning kept apart from the answer.")
    reasoning_content: str | None = Field(default=None, description="Alias of reasoning.")
    persona: str | None = Field(default=None, description="Persona the question was asked as.")
    source_ids: list[str | int] | None = Field(default=None, description="Ids of source chunks used.")
    teacher_model: str | None = Field(default=None, description="Model that wrote the sample.")
    critic_model: str | None = Field(default=None, description="Model that scored the sample.")
    critic_scores: dict[str, float] | None = Field(default=None, description="Critic rubric scores.")
    generation_params: dict[str, Any] | None = Field(default=None, description="Sampling parameters.")
    finish_reason: str | None = Field(default=None, description="Why generation stopped: stop, length, ...")
    prompt_tokens: int | None = Field(default=None, description="Prompt tokens the teacher saw.")
    completion_tokens: int | None = Field(default=None, description="Tokens the teacher wrote.")
    metadata: dict[str, Any] | None = Field(
        default=None, description="Any of the keys above, plus free-form keys kept as metadata."
    )


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """An OpenAI chat message; keys such as `name` are allowed and ignored."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = Field(
        default=None, description="Text, or a list of text parts (joined); may be null beside tool_calls."
    )
    reasoning_content: str | None = Field(default=None, description="Reasoning on the final turn.")
    tool_calls: list[dict[str, Any]] | None = Field(
        default=None,
        description="Assistant tool calls ({'function': {'name', 'arguments'}}), read as <tool_call> blocks.",
    )


class AssistantMessage(ChatMessage):
    role: Literal["assistant"]  # type: ignore[assignment]


class MessagesRecord(_RecordMetadata):
    """OpenAI `messages`: optional leading system turns, then turns; the last must be the assistant's."""

    messages: list[ChatMessage] = Field(min_length=2)
    tools: str | list[dict[str, Any]] | None = Field(
        default=None,
        description="Tool definitions, kept as metadata; call arguments are checked against them.",
    )
    system: str | None = Field(default=None, description="System prompt, when the messages hold none.")


class PlainPromptCompletionRecord(_RecordMetadata):
    """TRL plain prompt-completion: two strings."""

    prompt: str = Field(min_length=1, description="Text, or a rendered chat template (parsed into turns).")
    completion: str
    system: str | None = None


class ConversationalPromptCompletionRecord(_RecordMetadata):
    """TRL conversational prompt-completion: prompt messages and one assistant message."""

    prompt: list[ChatMessage] = Field(min_length=1)
    completion: list[AssistantMessage] = Field(min_length=1, max_length=1)
    system: str | None = None


class AlpacaRecord(_RecordMetadata):
    """Alpaca: the user turn is instruction + blank line + input (input may be empty)."""

    instruction: str
    input: str | None = None
    output: str = Field(description="The completion.")
    system: str | None = None
    history: list[tuple[str, str]] | None = Field(
        default=None, description="Earlier [question, answer] turns."
    )


class ShareGPTTurn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: Literal[
        "system", "human", "user", "gpt", "assistant", "function_call", "observation", "tool", "function"
    ] = Field(alias="from")
    value: str


class ShareGPTRecord(_RecordMetadata):
    """ShareGPT `conversations`; the last turn must be gpt/assistant/function_call."""

    conversations: list[ShareGPTTurn] = Field(min_length=2)
    system: str | None = None
    tools: str | list[dict[str, Any]] | None = Field(default=None, description="Tool definitions.")


RECORD_MODELS: dict[str, Any] = {
    "messages": MessagesRecord,
    "prompt-completion": PlainPromptCompletionRecord | ConversationalPromptCompletionRecord,
    "alpaca": AlpacaRecord,
    "sharegpt": ShareGPTRecord,
}


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every committed schema file."""
    out = {
        "sample.schema.json": _with_dialect(Sample.model_json_schema(), "Sample"),
        "verdict.schema.json": _with_dialect(Verdict.model_json_schema(), "Verdict"),
        "chain_config.schema.json": _with_dialect(ChainConfig.model_json_schema(), "ChainConfig"),
    }
    for fmt, model in RECORD_MODELS.items():
        out[f"record.{fmt}.schema.json"] = _with_dialect(TypeAdapter(model).json_schema(), f"{fmt} record")
    return out


def render(schema: dict[str, Any]) -> str:
    """The exact text committed for a schema: stable key order, 2-space indent, trailing newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files that are missing or differ from freshly generated ones."""
    return [
        name
        for name, schema in schemas().items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != render(schema)
    ]


def write(directory: Path = JSON_DIR) -> list[str]:
    """Rewrite the stale schema files in `directory`; return their names."""
    directory.mkdir(parents=True, exist_ok=True)
    stale = stale_files(directory)
    generated = schemas()
    for name in stale:
        (directory / name).write_text(render(generated[name]), encoding="utf-8")
    return stale


def _with_dialect(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": _DIALECT, **schema, "title": schema.get("title", title)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Report stale files and exit 1; write nothing.")
    args = parser.parse_args(argv)
    changed = stale_files() if args.check else write()
    for name in changed:
        print(f"{'stale' if args.check else 'wrote'}: {JSON_DIR / name}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
