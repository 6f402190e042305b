"""The closed set of reason codes, spelled `family.condition`: every code synthgate stores or
prints, whoever emits it (validators, the audit's reader, the generation pipeline).

Each code carries the status and severity it gets by default; a chain config may lower a
code's severity to `warn` (or raise it to `block`). Tests assert codes, so a code is never
renamed without a migration note in the README. tests/validators/test_codes.py fails when a
module emits a code missing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from synthgate.schemas.verdict import Ref, Severity, Span, Status, Verdict


@dataclass(frozen=True)
class Code:
    code: str
    status: Status
    severity: Severity
    summary: str

    @property
    def family(self) -> str:
        """The part before the dot: `leak` for `leak.system_prompt_verbatim`."""
        return self.code.split(".", 1)[0]


def _c(code: str, status: Status, severity: Severity, summary: str) -> Code:
    return Code(code, status, severity, summary)


_ALL = [
    # thinking / reasoning blocks
    _c("think.stripped", "fixed", "block", "A reasoning block was removed from the completion."),
    _c("think.unclosed", "fail", "block", "A reasoning block opens but never closes."),
    _c("think.stray_close", "fail", "block", "A closing reasoning tag without an opening one."),
    _c("think.empty_after_strip", "fail", "block", "Nothing is left once reasoning is removed."),
    _c("think.forbidden", "fail", "block", "Reasoning present where the chain forbids it."),
    _c(
        "think.malformed",
        "fail",
        "block",
        "Reasoning kept but not one closed block before the answer.",
    ),
    # system-prompt / instruction leakage
    _c("leak.system_prompt_verbatim", "fail", "block", "The completion repeats the system prompt."),
    _c(
        "leak.system_prompt_sentence",
        "fail",
        "block",
        "A system-prompt rule appears in the completion.",
    ),
    _c(
        "leak.system_prompt_paraphrase",
        "fail",
        "block",
        "The completion restates its instructions.",
    ),
    _c("leak.configured_text", "fail", "block", "Configured instruction/few-shot text leaked."),
    # multi-Q&A looping and degeneration
    _c(
        "loop.extra_qa_pair",
        "fail",
        "block",
        "Self-invented question/answer pairs after the answer.",
    ),
    _c("loop.repeated_sentence", "fail", "block", "The same sentence repeats."),
    _c("loop.repeated_line", "fail", "block", "The same line repeats."),
    _c("loop.repeated_ngram", "fail", "block", "A word n-gram repeats far more than prose does."),
    _c("loop.fragment_loop", "fail", "block", "A short fragment repeats at the end (degeneration)."),
    _c("loop.finish_reason_length", "fail", "block", "Generation stopped at the token limit."),
    # length budget
    _c("length.completion_over_budget", "fail", "block", "The completion alone exceeds max_length."),
    _c("length.prompt_truncated", "fixed", "block", "The user content was middle-truncated to fit."),
    _c("length.prompt_over_budget", "fail", "block", "The prompt cannot be cut enough to fit."),
    _c(
        "length.truncated_completion",
        "fail",
        "block",
        "The completion was cut off (its ending, or a token count at a shared cap).",
    ),
    # prompt echo
    _c("echo.prompt_repeated", "fail", "block", "The completion repeats the prompt."),
    # duplicates
    _c("dup.exact_record", "fail", "block", "An identical record appears earlier."),
    _c("dup.exact_prompt", "fail", "warn", "The same prompt appears earlier with another answer."),
    _c("dup.exact_completion", "fail", "warn", "The same completion appears earlier."),
    _c("dup.near_prompt", "fail", "warn", "A nearly identical prompt appears earlier."),
    _c("dup.near_completion", "fail", "warn", "A nearly identical completion appears earlier."),
    # format rules
    _c("format.markdown_header", "fail", "block", "Markdown header where prose is required."),
    _c(
        "format.markdown_bullets",
        "fail",
        "block",
        "Bulleted/numbered list where prose is required.",
    ),
    # structured output
    _c("schema.invalid_json", "fail", "block", "The completion should be JSON but does not parse."),
    _c("schema.violation", "fail", "block", "The JSON completion violates its JSON Schema."),
    # set-level
    _c("set.shared_system_prompt", "fail", "warn", "Most records share one system prompt."),
    _c("set.template_collapse", "fail", "warn", "Many completions open with the same words."),
    _c("set.refusal_share", "fail", "warn", "Refusal share is outside the expected range."),
    _c("set.near_duplicate_share", "fail", "warn", "Too many duplicate or near-duplicate records."),
    _c("set.low_diversity", "fail", "warn", "Few distinct prompts or completions."),
    _c("set.templated_prompts", "fail", "warn", "Prompts differ only in slot values (one template)."),
    # unusable input records
    _c("input.malformed", "fail", "block", "The record could not be parsed."),
    _c("input.missing_field", "fail", "block", "A required field is missing."),
    _c("input.unknown_field", "fail", "block", "The record has a field the format does not know."),
    _c("input.wrong_type", "fail", "block", "A field has the wrong type."),
    _c("input.no_completion", "fail", "block", "The record has no assistant turn to train on."),
    _c("input.not_utf8", "fail", "block", "The bytes are not valid UTF-8."),
    _c("input.invalid_record", "fail", "block", "The record cannot be used as given."),
    # eval contamination (audit depth)
    _c("contam.exact_match", "fail", "block", "A record matches an eval item exactly."),
    _c("contam.ngram_overlap", "fail", "block", "A record shares a long n-gram with an eval item."),
    _c("contam.split_overlap", "fail", "block", "A record is shared with its validation split."),
    _c("contam.split_prompt_overlap", "fail", "block", "A prompt is also in the validation split."),
    # preference pairs
    _c("pref.chosen_failed", "fail", "block", "The chosen side fails the chain."),
    _c("pref.rejected_failed", "fail", "warn", "The rejected side fails the chain."),
    _c("pref.identical_pair", "fail", "block", "chosen and rejected are the same (layout aside)."),
    _c("pref.near_identical_pair", "fail", "warn", "chosen and rejected differ only by a small prose edit."),
    _c("pref.chosen_refusal", "fail", "warn", "The chosen side is a refusal."),
    _c("pref.chosen_refusal_share", "fail", "warn", "Many pairs prefer a refusal (set level)."),
    # artifacts teachers leave behind
    _c("artifact.unfilled_placeholder", "fail", "block", "An unfilled template placeholder."),
    _c("artifact.citation_marker", "fail", "block", "A leftover citation/markup marker."),
    _c("artifact.special_token", "fail", "block", "A special token in plain text."),
    _c("artifact.boilerplate", "fail", "warn", 'Assistant boilerplate ("As an AI language model").'),
    _c("artifact.empty_completion", "fail", "block", "The completion is empty or whitespace."),
    # tool calls (assistant turns that call tools; see synthgate.schemas.tool_calls)
    _c("tool.malformed_call", "fail", "block", "A tool call is not a JSON object with a name."),
    _c("tool.invalid_arguments", "fail", "block", "Tool-call arguments are not a JSON object."),
    _c("tool.unknown_tool", "fail", "block", "A call names a tool the record does not define."),
    _c("tool.schema_violation", "fail", "block", "Tool-call arguments violate the tool's JSON Schema."),
    # secrets and personal data
    _c("secret.api_key", "fail", "block", "Something shaped like an API key or token."),
    _c("secret.private_key", "fail", "block", "A private key block."),
    _c("secret.url_credentials", "fail", "block", "A password inside a URL (scheme://user:pw@host)."),
    _c("pii.email", "fail", "warn", "An email address."),
    _c("pii.phone", "fail", "warn", "A phone number."),
    # generation: why a job's reply was rejected or the job failed (gen_jobs.reason)
    _c("gen.invalid_json", "fail", "block", "The teacher's reply is not a JSON object (after json_retries)."),
    _c(
        "gen.schema_violation", "fail", "block", "The teacher's JSON reply violates the task's output schema."
    ),
    _c("gen.backend_error", "fail", "block", "The teacher's requests failed past max_retries."),
    _c("gen.instruction_echo", "fail", "block", "The reply repeats the generation instructions."),
    _c("gen.refusal_missing", "fail", "block", "A refusal job's answer does not decline."),
    # the critic's verdict on a generated sample
    _c("critic.below_threshold", "fail", "block", "The mean rubric score is below critic.threshold."),
    _c("critic.below_top_fraction", "fail", "block", "Scored outside the best critic.keep_top share."),
    _c(
        "critic.invalid_json",
        "fail",
        "block",
        "The critic's reply is not a JSON object (after json_retries).",
    ),
    _c("critic.schema_violation", "fail", "block", "The critic's reply violates the score schema."),
    _c("critic.backend_error", "fail", "block", "The critic's requests failed past max_retries."),
    # the teacher's self-check of its own answer
    _c("selfcheck.unsupported", "fail", "block", "The teacher found its answer unsupported by the context."),
    _c(
        "selfcheck.invalid_json",
        "fail",
        "block",
        "The self-check reply is not a JSON object (after retries).",
    ),
    _c("selfcheck.schema_violation", "fail", "block", "The self-check reply violates its schema."),
    _c("selfcheck.backend_error", "fail", "block", "The self-check requests failed past max_retries."),
]

CODES: dict[str, Code] = {c.code: c for c in _ALL}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(c.split(".")[0] for c in CODES))


def get(code: str) -> Code:
    """The registered code; an unknown code is a programming error."""
    try:
        return CODES[code]
    except KeyError:
        raise KeyError(f"unknown reason code {code!r}; add it to synthgate/validators/codes.py") from None


def registered(code: str) -> str:
    """`code` itself once checked against the registry (KeyError when missing): for a module that
    keeps a code in a constant, so an unregistered one fails at import.

    >>> registered("gen.invalid_json")
    'gen.invalid_json'
    """
    return get(code).code


def unknown_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The entries of `prefixes` that neither are a registered code nor begin one: a config's
    `severity_overrides` keys and a gate's `block_codes` match codes by prefix, so a typo there
    would silently match nothing.

    >>> unknown_prefixes(["dup.", "leak.system_prompt_verbatim", "dupe."])
    ['dupe.']
    """
    return [p for p in prefixes if not any(code.startswith(p) for code in CODES)]


def check_prefixes(prefixes: Iterable[str]) -> None:
    """ValueError naming every unknown entry of `prefixes` (see `unknown_prefixes`) and the families."""
    unknown = unknown_prefixes(prefixes)
    if unknown:
        names = ", ".join(repr(p) for p in unknown)
        raise ValueError(
            f"unknown reason code or code prefix {names}; codes begin with one of {', '.join(FAMILIES)}"
        )


def verdict(
    validator: str,
    code: str,
    message: str,
    *,
    span: Span | None = None,
    score: float | None = None,
    severity: Severity | None = None,
    ref: Ref | None = None,
) -> Verdict:
    """A Verdict with the status and default severity registered for `code`."""
    c = get(code)
    return Verdict(
        validator=validator,
        status=c.status,
        severity=severity or c.severity,
        code=code,
        message=message,
        span=span,
        score=score,
        ref=ref,
    )
