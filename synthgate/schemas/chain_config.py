"""Configuration of the validator chain: one strict model per validator, all with defaults.

Every threshold has a description, so the generated JSON Schema documents itself, and
`extra="forbid"` turns a typo in a YAML key into an error that names it.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The per-sample validators a chain can name; validators/chain.py REGISTRY maps each to its class
# (a test keeps the two equal). A Literal, so a misspelled name in `order` fails at parse time.
ValidatorName = Literal[
    "thinking",
    "leakage",
    "looping",
    "artifacts",
    "secrets",
    "echo",
    "truncation",
    "format",
    "tools",
    "length",
]
VALIDATOR_NAMES: tuple[str, ...] = get_args(ValidatorName)

# The default chain runs every validator, in the order above.
DEFAULT_ORDER: list[ValidatorName] = list(VALIDATOR_NAMES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThinkingConfig(_Strict):
    mode: Literal["strip", "keep", "forbid"] = Field(
        default="strip",
        description="strip: remove reasoning blocks (fixed); keep: require one well-formed block "
        "before the answer (reasoning students); forbid: any reasoning fails.",
    )
    tags: list[str] = Field(
        default_factory=lambda: ["think", "thinking", "reasoning"],
        description="Tag names treated as reasoning blocks (matched case-insensitively).",
    )


class LeakageConfig(_Strict):
    extra_texts: list[str] = Field(
        default_factory=list,
        description="Instruction or few-shot texts that must not appear in completions, "
        "besides each record's own system prompt.",
    )
    shingle_words: int = Field(
        default=3,
        ge=2,
        description="Word n-gram size used to screen for candidate leaks. 3 keeps every rule of 6+ "
        "words with one edited word (it leaves 3 words in a row); larger n screens faster but misses "
        "edited short rules.",
    )
    min_rule_words: int = Field(
        default=6, ge=3, description="Shortest prompt sentence (in words) checked as a rule."
    )
    sentence_threshold: float = Field(
        default=88.0, ge=0, le=100, description="rapidfuzz score at which a rule sentence leaked."
    )
    verbatim_min_chars: int = Field(
        default=200,
        ge=20,
        description="A verbatim match this long (or the whole prompt) counts as verbatim leakage.",
    )
    paraphrase: bool = Field(
        default=True,
        description="Flag sentences where the answer narrates its own instructions "
        '("As instructed, I will only use the provided context").',
    )


class LoopingConfig(_Strict):
    max_sentence_repeats: int = Field(
        default=2, ge=1, description="A sentence may appear this many times; more is a loop."
    )
    max_line_repeats: int = Field(
        default=2, ge=1, description="A non-trivial line may appear this many times."
    )
    ngram_words: int = Field(default=8, ge=3, description="n for the repeated n-gram check.")
    max_ngram_repeats: int = Field(
        default=3, ge=2, description="An n-gram may appear this many times; more is degeneration."
    )
    fragment_min_repeats: int = Field(
        default=4, ge=2, description="Repeats of a short trailing fragment that make a loop."
    )
    allow_qa_pairs: bool = Field(
        default=False,
        description="Allow Question:/Answer: pairs in completions (e.g. a FAQ-writing task).",
    )


class LengthConfig(_Strict):
    max_length: int = Field(default=2048, ge=16, description="Training max_length in tokens.")
    tokenizer: str | None = Field(
        default=None,
        description="Tokenizer folder, model folder or GGUF file; None: the embedded Gemma 3 270M.",
    )
    truncation_marker: str = Field(
        default="\n[...]\n", description="Text inserted where the user content was cut."
    )


class FormatConfig(_Strict):
    prose_task_types: list[str] = Field(
        default_factory=lambda: ["grounded", "synthesis", "refusal"],
        description="Task types whose completions must be prose (no markdown headers/bullets).",
    )
    min_bullets: int = Field(
        default=2, ge=1, description="This many list lines make a completion a bulleted list."
    )
    json_schemas: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="task type -> JSON Schema its completions must be valid JSON against.",
    )


class SetConfig(_Strict):
    near_duplicate_threshold: float = Field(
        default=92.0, ge=0, le=100, description="rapidfuzz ratio at which two texts are near-dups."
    )
    max_near_duplicate_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of duplicate records that raises a set finding.",
    )
    shared_system_prompt_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of records carrying one identical system prompt that raises a finding.",
    )
    opening_words: int = Field(default=5, ge=1, description="Words that make a completion's opening.")
    template_collapse_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of completions (per task type) opening with the same words that raises a finding.",
    )
    template_collapse_min_records: int = Field(
        default=20, ge=2, description="Fewest records in a group before collapse is judged."
    )
    refusal_share: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="task type -> [min, max] share of refusals expected; '*' for all records.",
    )
    low_diversity_ratio: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Distinct completions / records below this raises set.low_diversity.",
    )
    near_duplicate_cache_mb: int = Field(
        default=64,
        ge=1,
        description="Megabytes of normalized text of the most recent records kept to confirm "
        "near-duplicate candidates with rapidfuzz; an older candidate is accepted only on strong "
        "MinHash agreement.",
    )


class PreferenceConfig(_Strict):
    identical_threshold: float = Field(
        default=95.0,
        ge=0,
        le=100,
        description="rapidfuzz ratio (symbols-normalized text) at which chosen and rejected that differ "
        "only by a word edit (no number or operator changed) are pref.near_identical_pair (warn).",
    )
    max_chosen_refusal_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Share of pairs whose chosen side is a refusal above which "
        "pref.chosen_refusal_share is raised (preferring refusals teaches over-refusal).",
    )


class ArtifactsConfig(_Strict):
    placeholders: bool = Field(
        default=True, description="Flag unfilled template placeholders ({name}, [INSERT ...], <NAME>)."
    )
    citation_markers: bool = Field(
        default=True, description="Flag leftover citation markers ([cite: 12], 【4:0†source】)."
    )
    special_tokens: bool = Field(
        default=True, description="Flag chat-template special tokens (<|im_end|>, [INST], </s>) in text."
    )
    boilerplate: bool = Field(
        default=True, description='Flag assistant boilerplate ("As an AI language model").'
    )
    boilerplate_severity: Literal["block", "warn"] = Field(
        default="warn", description="Severity of artifact.boilerplate verdicts."
    )
    check_prompts: bool = Field(
        default=True, description="Also check user prompt turns, not only the completion."
    )


class TruncationConfig(_Strict):
    text_signs: bool = Field(
        default=True,
        description="Flag completions whose ending shows a cut (unclosed code block, a last sentence "
        "stopping on 'the'/'and'/',' or without closing punctuation) when finish_reason is unknown.",
    )
    round_caps: list[int] = Field(
        default_factory=lambda: [
            128,
            256,
            300,
            400,
            500,
            512,
            1000,
            1024,
            1500,
            2000,
            2048,
            3000,
            4000,
            4096,
            8000,
            8192,
            16384,
            32768,
        ],  # fmt: skip
        description="Generation caps (completion tokens) checked at set level; half the training "
        "max_length is always added.",
    )
    cap_min_records: int = Field(
        default=5,
        ge=2,
        description="A round cap (or the set's largest completion length, when at least "
        "cap_min_tokens) shared exactly by this many records marks them as cut by a generation limit.",
    )
    cap_spike_factor: float = Field(
        default=5.0,
        ge=1,
        description="Records at a cap must also number this many times the mean count of the 20 "
        "lengths each side: in a large set every length is shared by chance; a cap is a spike.",
    )
    cap_min_tokens: int = Field(
        default=64, ge=1, description="Shortest completion length (tokens) judged as a generation cap."
    )
    max_pileup: bool = Field(
        default=True,
        description="Also treat the set's largest completion token count as a cap when "
        "cap_min_records records share it exactly (a cap that is not a round number).",
    )


class EchoConfig(_Strict):
    min_prompt_words: int = Field(
        default=8, ge=1, description="Shorter prompts are not judged: quoting a short question back is fine."
    )
    long_prompt_words: int = Field(
        default=20,
        ge=1,
        description="Prompts this long echo when min_share of their words recur in order; shorter ones "
        "need short_prompt_share and their first word (restating a question as the answer's opening, "
        "'The three primary colors are ...', is not an echo).",
    )
    min_share: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Share of a long prompt's words the completion repeats in order (near-verbatim: a "
        "few edited words allowed) for echo.prompt_repeated.",
    )
    short_prompt_share: float = Field(
        default=0.9, ge=0, le=1, description="The same share for prompts shorter than long_prompt_words."
    )
    exempt_rewrites: bool = Field(
        default=True,
        description="Skip prompts that ask to rewrite, paraphrase, translate, correct, format, convert, "
        "refactor or repeat text, or that hold code: their answers legitimately resemble the prompt.",
    )


class SecretsConfig(_Strict):
    api_key_severity: Literal["block", "warn"] = Field(
        default="block", description="Severity of secret.api_key and secret.private_key verdicts."
    )
    pii_severity: Literal["block", "warn"] = Field(
        default="warn", description="Severity of pii.email and pii.phone verdicts."
    )
    emails: bool = Field(default=True, description="Flag email addresses (documentation domains excepted).")
    phones: bool = Field(default=True, description="Flag phone numbers (10+ digits with separators).")
    check_prompts: bool = Field(
        default=True,
        description="Also check the system prompt and every other turn, not only the completion.",
    )


class ToolsConfig(_Strict):
    schemas: bool = Field(
        default=True,
        description="Check call arguments against the tool's JSON Schema when the record carries `tools`.",
    )
    check_prompts: bool = Field(
        default=True, description="Also check the calls in earlier assistant turns, not only the completion."
    )


class ContaminationConfig(_Strict):
    ngram_words: int = Field(
        default=13,
        ge=5,
        description="A run of this many words shared with an eval item is contamination "
        "(13: the decontamination n of GPT-3 and open-instruct).",
    )
    min_contained_words: int = Field(
        default=8,
        ge=3,
        description="An eval item at least this long found whole inside a user turn is an exact match.",
    )
    boilerplate_min_items: int = Field(
        default=3,
        ge=2,
        description="An n-gram in at least this many distinct eval items (and boilerplate_share of "
        "them) is benchmark boilerplate, not evidence.",
    )
    boilerplate_share: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="Share of distinct eval items an n-gram must appear in (with boilerplate_min_items) "
        "to count as boilerplate (answer-format lines, repeated instructions).",
    )
    check_completion: bool = Field(
        default=True, description="Also look for eval items in the completion, not only the user turns."
    )
    max_verdicts: int = Field(default=3, ge=1, description="Most contamination verdicts per record.")


class ChainConfig(_Strict):
    """The whole chain: which validators run, in which order, with which settings."""

    order: list[ValidatorName] = Field(
        default_factory=lambda: list(DEFAULT_ORDER),
        description="Per-sample validators in the order they run; each sees the previous "
        "one's repaired sample.",
    )
    set_checks: bool = Field(default=True, description="Run set-level checks over the dataset.")
    severity_overrides: dict[str, Literal["block", "warn"]] = Field(
        default_factory=dict, description="code or code prefix -> severity, e.g. {'dup.': 'block'}."
    )
    thinking: ThinkingConfig = Field(default_factory=ThinkingConfig)
    leakage: LeakageConfig = Field(default_factory=LeakageConfig)
    looping: LoopingConfig = Field(default_factory=LoopingConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    format: FormatConfig = Field(default_factory=FormatConfig)
    sets: SetConfig = Field(default_factory=SetConfig)
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    tools: ToolsConfig = Field(
        default_factory=ToolsConfig, description="Tool-call checks (arguments, known tools, schemas)."
    )
    truncation: TruncationConfig = Field(default_factory=TruncationConfig)
    echo: EchoConfig = Field(default_factory=EchoConfig)
    preference: PreferenceConfig = Field(
        default_factory=PreferenceConfig, description="Pair checks for preference (DPO) data."
    )
    contamination: ContaminationConfig = Field(
        default_factory=ContaminationConfig,
        description="Eval-set overlap settings; the check runs when eval sets are given.",
    )

    @field_validator("order")
    @classmethod
    def _each_once(cls, order: list[str]) -> list[str]:
        twice = sorted({name for name in order if order.count(name) > 1})
        if twice:
            raise ValueError(f"names {', '.join(twice)} more than once; each validator runs at most once")
        return order
