"""The `synthgate generate` configuration: strict pydantic models, one per section.

Unknown keys are errors (`extra="forbid"`), every setting has a description (the committed JSON
Schema in `examples/generate_config.schema.json` is generated from these models), and credentials
never appear here: `api_key_env` names the environment variable that holds the key, read only
when a backend is built (`resolve_api_key`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from synthgate.config import load_mapping, validation_message
from synthgate.errors import ConfigError
from synthgate.models.embedded import DEFAULT_SPECS, EMBEDDED_NAME
from synthgate.models.names import model_key
from synthgate.pipelines.embedded_teacher import TEACHER_NAME
from synthgate.schemas.chain_config import ChainConfig, ToolsConfig
from synthgate.store.connection import DEFAULT_PATH
from synthgate.validators.chain import REGISTRY
from synthgate.validators.codes import check_prefixes

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the user's question using only the provided context. "
    "If the context does not contain enough information to answer, say so politely instead of guessing."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourcesConfig(_Strict):
    """Where the material the teacher writes about comes from."""

    documents: list[str] = Field(
        default_factory=list,
        description="Glob patterns of .txt, .md or .jsonl files, optionally compressed (.gz, .bz2, .xz, "
        ".zst), relative to the config file.",
    )
    text_field: str = Field(default="text", description="Field holding the text in .jsonl documents.")
    chunk_chars: int = Field(default=1200, ge=100, description="Target chunk size in characters.")
    chunk_tokens: int | None = Field(
        default=None,
        ge=16,
        description="Chunk size in tokens of `tokenizer`, instead of characters (overrides chunk_chars).",
    )
    tokenizer: str | None = Field(
        default=None,
        description="Tokenizer folder or .gguf that counts `chunk_tokens` (default: the embedded Gemma 3).",
    )
    overlap_sentences: int = Field(
        default=1, ge=0, description="Sentences repeated at the start of the next chunk."
    )
    min_chunk_chars: int = Field(
        default=80, ge=1, description="Chunks shorter than this (headings, stubs) are dropped."
    )
    topics: list[str] = Field(
        default_factory=list,
        description="Seed topics, used as one-line sources when no documents are given.",
    )
    prompts: str | None = Field(
        default=None,
        description="Id of a dataset in the store (ds_...) whose prompts the teacher answers (task "
        "`answer`), instead of writing questions from documents or topics.",
    )

    @model_validator(mode="after")
    def _something(self) -> SourcesConfig:
        if self.prompts is not None and (self.documents or self.topics):
            raise ValueError("`prompts` replaces `documents` and `topics`; give one kind of source")
        if not self.documents and not self.topics and self.prompts is None:
            raise ValueError("give `documents` (glob patterns), `topics` or `prompts` (a dataset id)")
        return self


class CustomTaskConfig(_Strict):
    """A user task: a prompt template and the JSON Schema its output must satisfy."""

    template: str = Field(
        description="Prompt template shown to teacher and student; {context} and {persona} are filled in."
    )
    output_schema: dict[str, Any] = Field(description="JSON Schema the output object must satisfy.")


class TasksConfig(_Strict):
    """Task mix: relative weights (normalised), plus the settings of the RAFT and custom tasks."""

    grounded: float = Field(default=0.6, ge=0, description="One chunk -> question and cited prose answer.")
    synthesis: float = Field(
        default=0.2, ge=0, description="Two chunks from different documents -> comparative answer."
    )
    refusal: float = Field(
        default=0.2, ge=0, description="Only distractor chunks -> polite refusal (context insufficient)."
    )
    raft: float = Field(default=0.0, ge=0, description="Oracle chunk among distractors -> grounded answer.")
    custom: float = Field(default=0.0, ge=0, description="The custom task (needs `custom_task`).")
    raft_distractors: int = Field(default=3, ge=1, description="Distractor chunks beside the oracle (RAFT).")
    refusal_distractors: int = Field(default=2, ge=1, description="Distractor chunks in a refusal task.")
    custom_task: CustomTaskConfig | None = Field(default=None, description="Template and schema of `custom`.")

    @model_validator(mode="after")
    def _weights(self) -> TasksConfig:
        if sum(self.weights().values()) <= 0:
            raise ValueError("at least one task weight must be positive")
        if self.custom > 0 and self.custom_task is None:
            raise ValueError("`custom` has a weight but no `custom_task` (template and output_schema)")
        return self

    def weights(self) -> dict[str, float]:
        """task type -> weight, positive weights only, in a fixed order."""
        all_ = {
            "grounded": self.grounded,
            "synthesis": self.synthesis,
            "refusal": self.refusal,
            "raft": self.raft,
            "custom": self.custom,
        }
        return {k: v for k, v in all_.items() if v > 0}


class SamplingParams(_Strict):
    """Sampling parameters sent with every request (unset ones are not sent)."""

    temperature: float | None = Field(default=None, ge=0, description="Sampling temperature.")
    top_p: float | None = Field(default=None, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int | None = Field(default=None, ge=1, description="Most tokens per response.")
    seed: int | None = Field(default=None, description="Sampling seed, where the server honours one.")
    stop: list[str] | None = Field(default=None, description="Stop sequences.")
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Server-specific request fields (openai backend; distilabel classes that take "
        "extra_body), sent as is.",
    )

    def sent(self) -> dict[str, Any]:
        """The parameters actually sent (None and empty left out)."""
        return self.model_dump(exclude_none=True, exclude_defaults=False, exclude={"extra_body"}) | (
            {"extra_body": self.extra_body} if self.extra_body else {}
        )


# llm_kwargs the distilabel backend sets itself -> the config key that sets it.
_DISTILABEL_OWNED = {
    "model": "model",
    "model_id": "model",
    "base_url": "base_url",
    "api_key": "api_key_env (the variable's name, never the key)",
    "timeout": "timeout_s",
    "max_retries": "max_retries (synthgate retries, and records every try)",
}


class BackendConfig(_Strict):
    """One model endpoint (the teacher, or the critic)."""

    backend: Literal["openai", "ollama", "local", "distilabel"] = Field(
        description="openai: any OpenAI-compatible server; ollama: Ollama's native API; local: transformers; "
        "distilabel: a distilabel LLM class (`llm_class`), for providers without a native backend."
    )
    model: str | None = Field(
        default=None,
        description="Model name (server side) or local folder; local + none = embedded; distilabel: "
        "passed as the class's `model` (or `model_id`).",
    )
    base_url: str | list[str] | None = Field(
        default=None,
        description="Server URL (openai: ending in /v1; distilabel: the class's base_url). openai and "
        "ollama: a list of URLs of servers serving the same model spreads the requests over them (each "
        "to the least-loaded server; a try that fails is retried on another).",
    )
    api_key_env: str | None = Field(
        default=None,
        description="Name of the environment variable holding the API key (never the key itself); "
        "distilabel: passed as the class's api_key.",
    )
    llm_class: str | None = Field(
        default=None,
        description="distilabel backend: a class exported by distilabel.models (OpenAILLM, vLLM, "
        "AnthropicLLM, InferenceEndpointsLLM, ...) or a dotted path pkg.module.Class.",
    )
    llm_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="distilabel backend: extra constructor arguments of `llm_class` (never a key: "
        "use api_key_env); `generation_kwargs` in here are sent with every request.",
    )
    params: SamplingParams = Field(default_factory=SamplingParams)
    think: bool = Field(
        default=False,
        description="False: ask for no thinking where the backend allows (Ollama think=false; "
        "openai: chat_template_kwargs.enable_thinking=false when `disable_thinking_kwargs`).",
    )
    disable_thinking_kwargs: bool = Field(
        default=False,
        description="openai backend: send chat_template_kwargs {enable_thinking: false} "
        "(vLLM, llama.cpp, SGLang serving Qwen3; OpenAI itself rejects it).",
    )
    timeout_s: float = Field(default=120.0, gt=0, description="Seconds before one request times out.")
    max_retries: int = Field(
        default=5, ge=0, description="Retries of one request on 429, 5xx, timeouts and dropped connections."
    )
    backoff_s: float = Field(
        default=0.5, ge=0, description="First backoff delay; doubles per retry, jittered."
    )
    backoff_max_s: float = Field(default=30.0, ge=0, description="Longest single backoff delay.")
    json_retries: int = Field(
        default=2, ge=0, description="New generations asked for when the output is not valid JSON."
    )
    batch_size: int = Field(
        default=8,
        ge=1,
        description="local backend and in-process distilabel classes (vLLM, ...): requests decoded "
        "together in one batch (concurrent requests are gathered up to this many; 1 = one at a time).",
    )

    @field_validator("base_url")
    @classmethod
    def _servers_listed_once(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list: give one URL, or a list of servers")
            if len(set(value)) != len(value):
                raise ValueError("lists a server twice; list each server once (concurrency sets the load)")
        return value

    @model_validator(mode="after")
    def _server_list(self) -> BackendConfig:
        if (
            isinstance(self.base_url, list)
            and len(self.base_url) > 1
            and self.backend not in ("openai", "ollama")
        ):
            raise ValueError(
                f"a list of `base_url` servers applies to backends openai and ollama, not {self.backend}"
            )
        return self

    def servers(self) -> list[str | None]:
        """The server URLs requests go to: one (None: the backend's default), or the list given."""
        return list(self.base_url) if isinstance(self.base_url, list) else [self.base_url]

    @model_validator(mode="after")
    def _distilabel_fields(self) -> BackendConfig:
        if self.backend != "distilabel":
            if self.llm_class is not None or self.llm_kwargs:
                raise ValueError(
                    f"`llm_class` and `llm_kwargs` apply to backend distilabel only, not {self.backend}"
                )
            return self
        if not self.llm_class:
            raise ValueError(
                "backend distilabel needs `llm_class`: a class of distilabel.models (e.g. OpenAILLM) "
                "or a dotted path pkg.module.Class"
            )
        owned = sorted(set(self.llm_kwargs) & set(_DISTILABEL_OWNED))
        if owned:
            raise ValueError(
                f"llm_kwargs {owned} are set from the backend's own keys: "
                + ", ".join(_DISTILABEL_OWNED[k] for k in owned)
            )
        if self.params.max_tokens is None:
            # OpenAILLM stops at 128 new tokens unless told, and distilabel returns no
            # finish_reason, so a reply cut at that default could not be told apart.
            raise ValueError(
                "backend distilabel needs params.max_tokens: distilabel classes cap replies at their "
                "own default (OpenAILLM: 128 tokens) and report no finish_reason"
            )
        return self

    def resolve_api_key(self) -> SecretStr | None:
        """The key from `api_key_env`; ConfigError naming the variable when it is unset."""
        if self.api_key_env is None:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(
                f"the environment variable {self.api_key_env} (api_key_env of the {self.backend} backend) "
                "is not set",
                hint=f"Set it: export {self.api_key_env}=... (the key is never written to config or store).",
            )
        return SecretStr(value)


class CriticConfig(BackendConfig):
    """The critic: a backend plus its keep rule."""

    threshold: float = Field(
        default=3.5, ge=1, le=5, description="Keep a sample whose mean rubric score is at least this."
    )
    keep_top: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Keep only this top fraction (by mean score) of the samples that meet `threshold`: "
        "the run scores about count / keep_top candidates, then keeps the best `count`.",
    )


class StudentConfig(_Strict):
    """The model this data will train: its base model, named so a run cannot distill a model into itself."""

    model: str = Field(
        default="default",
        description="Base model to train (name, folder or .gguf); `default`: the embedded Gemma 3 270M.",
    )


class GenerateConfig(_Strict):
    """A `synthgate generate` run: sources, task mix, personas, teacher, critic and the target count."""

    name: str = Field(description="Run name, shown in `synthgate runs list`.")
    store: str = Field(default=str(DEFAULT_PATH), description="DuckDB store file (relative to the config).")
    sources: SourcesConfig
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    personas: str = Field(
        default="builtin",
        description="`builtin` (the 36 built-in personas) or a persona file (.yaml/.jsonl).",
    )
    teacher: BackendConfig
    critic: CriticConfig | None = Field(
        default=None, description="The critic; none keeps every valid sample."
    )
    self_check: bool = Field(
        default=False,
        description="Ask the teacher to verify each answer against its context; drop failures "
        "(reason selfcheck.unsupported).",
    )
    student: StudentConfig = Field(default_factory=StudentConfig)
    allow_self_distill: bool = Field(
        default=False,
        description="Allow a teacher that is the student's own base model (refused by default: it "
        "teaches the student nothing it does not already do).",
    )
    system_prompt: str = Field(
        default=DEFAULT_SYSTEM_PROMPT, description="The student's system prompt stored with every sample."
    )
    count: int = Field(ge=1, description="Samples the run keeps (after validators and critic).")
    concurrency: int = Field(default=8, ge=1, le=512, description="Requests in flight at once.")
    max_length: int = Field(
        default=2048, ge=16, description="Training max_length (tokens) for the length check."
    )
    max_jobs: int | None = Field(
        default=None, ge=1, description="Give up after this many generation jobs (default 5 x count)."
    )
    seed: int = Field(default=0, description="Seed of persona, task and chunk sampling.")
    validators: ChainConfig = Field(
        default_factory=lambda: ChainConfig(order=list(REGISTRY)),
        description="Validator chain config (default: every validator); max_length is applied on top.",
    )

    @model_validator(mode="after")
    def _prompts_have_one_task(self) -> GenerateConfig:
        if self.sources.prompts is not None and "tasks" in self.model_fields_set:
            raise ValueError(
                "`tasks` does not apply to `sources.prompts`: every job answers one of the dataset's "
                "prompts (task `answer`); remove `tasks`"
            )
        return self

    @model_validator(mode="after")
    def _known_override_codes(self) -> GenerateConfig:
        try:
            check_prefixes(self.validators.severity_overrides)
        except ValueError as err:
            raise ValueError(f"validators.severity_overrides: {err}") from None
        return self

    @model_validator(mode="after")
    def _not_self_distill(self) -> GenerateConfig:
        teacher, student = self.teacher_model_name(), self.student_model_name()
        if not self.allow_self_distill and model_key(teacher) == model_key(student):
            raise ValueError(
                f"the teacher ({teacher}) is the student's base model ({student}): a model distilled "
                "from itself learns nothing new; name another teacher, or set allow_self_distill: true"
            )
        return self

    def teacher_model_name(self) -> str:
        """The teacher's model name; `backend: local` without a model is the embedded teacher."""
        return self.teacher.model or (TEACHER_NAME if self.teacher.backend == "local" else "")

    def student_model_name(self) -> str:
        """The student's base model name; `default` is the embedded Gemma 3 270M."""
        return EMBEDDED_NAME if self.student.model in DEFAULT_SPECS else self.student.model

    def chain_config(self, base: Path | None = None) -> ChainConfig:
        """The validator chain with this run's max_length (and the custom task's schema).

        max_length is the student's budget, so the length check counts the student's tokens: unless
        `validators.length.tokenizer` names one, a student other than the embedded Gemma must be a
        local folder or .gguf (relative to `base`) whose tokenizer is used.
        """
        data = self.validators.model_dump()
        data["length"]["max_length"] = self.max_length
        counts = "length" in data["order"] and data["length"]["tokenizer"] is None
        if counts and self.student.model not in DEFAULT_SPECS:
            data["length"]["tokenizer"] = str(self._student_path(base))
        elif data["length"]["tokenizer"] not in (None, *DEFAULT_SPECS) and base is not None:
            # Relative to the config file, like every other path in it.
            tok = Path(data["length"]["tokenizer"]).expanduser()
            data["length"]["tokenizer"] = str(tok if tok.is_absolute() else base / tok)
        if self.tasks.custom_task is not None:
            data["format"]["json_schemas"].setdefault("custom", self.tasks.custom_task.output_schema)
        return ChainConfig.model_validate(data)

    def _student_path(self, base: Path | None) -> Path:
        path = Path(self.student.model).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.exists():
            raise ConfigError(
                f"student.model {self.student.model!r} is not a local folder or .gguf file, so the length "
                f"check cannot count its tokens (max_length {self.max_length} is in the student's tokens)",
                hint="Point student.model at the local model folder or .gguf, or set "
                "validators.length.tokenizer to its tokenizer folder.",
            )
        return path

    def job_limit(self) -> int:
        return self.max_jobs or 5 * self.count

    def identity(self) -> str:
        """The run identity: a hash of everything that decides what is generated.

        Secrets are never in the config (only variable names). `concurrency`, `store`, the
        local backend's `batch_size` and `base_url` given as a list of servers are left out: they
        change how fast and where, not what, so a rerun with another concurrency or server list
        resumes.
        """
        speed = {"batch_size"}
        data = self.model_dump(
            mode="json",
            exclude={"concurrency": True, "store": True, "teacher": speed, "critic": speed},
        )
        for role in ("teacher", "critic"):
            if data.get(role) is not None and isinstance(data[role].get("base_url"), list):
                # Servers of one model given as a list are where, not what (like concurrency): the
                # run resumes when servers are added or dropped. A single URL (a string) stays in
                # the identity, as it always was.
                data[role]["base_url"] = None
            # Fields added later count only when set: a run started before them still resumes.
            for key, unset in (("llm_class", None), ("llm_kwargs", {})):
                if data.get(role) is not None and data[role].get(key) == unset:
                    data[role].pop(key)
        # The tools check (added later) only judges <tool_call> blocks, which generation does not
        # write: at its defaults it leaves the identity of runs started before it unchanged.
        chain = data["validators"]
        if chain.get("tools") == ToolsConfig().model_dump(mode="json"):
            chain.pop("tools")
            chain["order"] = [name for name in chain["order"] if name != "tools"]
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_generate_config(path: Path) -> GenerateConfig:
    """Read and validate a generate config; ConfigError with `file: key.path: message` lines."""
    data = load_mapping(path)
    try:
        return GenerateConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_message(path, err)) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of GenerateConfig (committed as examples/generate_config.schema.json)."""
    return GenerateConfig.model_json_schema()
