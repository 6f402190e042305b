"""The training sample: one prompt (system + turns) and one completion, content-addressed."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant", "tool"]


class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role = Field(description="Who speaks: system, user, assistant or tool.")
    content: str = Field(description="The turn's text.")


class SampleMetadata(BaseModel):
    """Where a sample came from and how it was generated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    persona: str | None = Field(default=None, description="Persona the question was asked as.")
    source_ids: list[str] = Field(default_factory=list, description="Ids of source chunks used.")
    teacher_model: str | None = Field(default=None, description="Model that wrote the sample.")
    critic_model: str | None = Field(default=None, description="Model that scored the sample.")
    critic_scores: dict[str, float] = Field(default_factory=dict, description="Critic rubric scores.")
    generation_params: dict[str, Any] = Field(
        default_factory=dict, description="Sampling parameters (temperature, max_tokens, ...)."
    )
    finish_reason: str | None = Field(default=None, description="Why generation stopped: stop, length, ...")
    prompt_tokens: int | None = Field(default=None, description="Prompt tokens the teacher saw.")
    completion_tokens: int | None = Field(default=None, description="Tokens the teacher wrote.")
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Any other fields the input record carried."
    )


class Sample(BaseModel):
    """One SFT sample. `id` is a hash of its content, so equal content means an equal id.

    >>> s = Sample(prompt=[Message(role="user", content="Hi?")], completion="Hello.")
    >>> s.id == Sample(prompt=[Message(role="user", content="Hi?")], completion="Hello.").id
    True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default="", description="Content hash (sha256, 16 hex) of the sample.")
    system_prompt: str | None = Field(default=None, description="The system turn, if any.")
    prompt: list[Message] = Field(
        description="Turns before the completion (user/assistant/tool), system excluded."
    )
    completion: str = Field(description="The assistant turn the model is trained to produce.")
    reasoning: str | None = Field(
        default=None, description="Reasoning kept apart from the completion (reasoning models)."
    )
    task_type: str | None = Field(
        default=None, description="Task type (grounded, synthesis, refusal, custom, ...)."
    )
    metadata: SampleMetadata = Field(default_factory=SampleMetadata)

    @model_validator(mode="before")
    @classmethod
    def _fill_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id"):
            data = dict(data)
            data["id"] = content_hash(data)
        return data

    @model_validator(mode="after")
    def _no_system_in_prompt(self) -> Sample:
        if any(m.role == "system" for m in self.prompt):
            raise ValueError("system turns belong in system_prompt, not in prompt")
        return self

    def messages(self) -> list[dict[str, str]]:
        """The full conversation in OpenAI `messages` form, completion last."""
        out = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        out += [{"role": m.role, "content": m.content} for m in self.prompt]
        out.append({"role": "assistant", "content": self.completion})
        return out

    def replace(self, **changes: Any) -> Sample:
        """A copy with `changes` applied and the content hash recomputed."""
        data = self.model_dump()
        data.update(changes)
        data["id"] = ""
        return Sample.model_validate(data)


def content_hash(data: dict[str, Any]) -> str:
    """sha256 (first 16 hex) of the fields that define a sample's training content."""

    def _msg(m: Any) -> dict[str, str]:
        return m if isinstance(m, dict) else {"role": m.role, "content": m.content}

    canonical = {
        "system_prompt": data.get("system_prompt"),
        "prompt": [_msg(m) for m in data.get("prompt") or []],
        "completion": data.get("completion"),
        "reasoning": data.get("reasoning"),
        "task_type": data.get("task_type"),
    }
    blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
