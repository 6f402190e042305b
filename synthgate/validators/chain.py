"""The ordered, configurable validator chain.

Each validator sees the sample as the previous one left it (repairs accumulate: thinking blocks
are stripped before leakage is judged, and length is measured on the final text). Validators are
imported lazily so a chain without `length` never loads a tokenizer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from synthgate.errors import ConfigError
from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict
from synthgate.validators.base import Result, Validator

# name -> (module, class, ChainConfig attribute holding its config)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "thinking": ("synthgate.validators.thinking", "ThinkingValidator", "thinking"),
    "leakage": ("synthgate.validators.leakage", "LeakageValidator", "leakage"),
    "looping": ("synthgate.validators.looping", "LoopingValidator", "looping"),
    "artifacts": ("synthgate.validators.artifacts", "ArtifactsValidator", "artifacts"),
    "secrets": ("synthgate.validators.secrets", "SecretsValidator", "secrets"),
    "echo": ("synthgate.validators.echo", "EchoValidator", "echo"),
    "truncation": ("synthgate.validators.truncation", "TruncationValidator", "truncation"),
    "format": ("synthgate.validators.format", "FormatValidator", "format"),
    "tools": ("synthgate.validators.tools", "ToolsValidator", "tools"),
    "length": ("synthgate.validators.length", "LengthValidator", "length"),
}


def build_validator(name: str, config: ChainConfig, **resources: Any) -> Validator:
    """Instantiate one registered validator with its section of `config`."""
    if name not in REGISTRY:
        known = ", ".join(REGISTRY)
        raise ConfigError(f"unknown validator {name!r} in chain order", hint=f"Known validators: {known}.")
    module, cls_name, attr = REGISTRY[name]
    cls = getattr(importlib.import_module(module), cls_name)
    section = getattr(config, attr)
    if name == "length":
        # Reasoning kept for a reasoning student is trained on, so it counts toward max_length.
        keep = config.thinking.mode == "keep"
        return cls(section, tokenizer=resources.get("tokenizer"), count_reasoning=keep)
    return cls(section)


def apply_severity(verdict: Verdict, overrides: dict[str, str]) -> Verdict:
    """Apply the longest matching code/prefix override to a verdict's severity."""
    if not overrides:
        return verdict
    best = max((k for k in overrides if verdict.code.startswith(k)), key=len, default=None)
    if best is None or overrides[best] == verdict.severity:
        return verdict
    return verdict.model_copy(update={"severity": overrides[best]})


class Chain:
    """Runs the configured validators over batches of samples."""

    def __init__(
        self,
        config: ChainConfig | None = None,
        *,
        extra: Sequence[Validator] = (),
        **resources: Any,
    ) -> None:
        """`extra`: validators built outside the registry (they hold an index, e.g. an eval set);
        they run before `length`, so middle-truncation never hides what they look for."""
        self.config = config or ChainConfig()
        self.validators: list[Validator] = [
            build_validator(name, self.config, **resources) for name in self.config.order
        ]
        at = self.config.order.index("length") if "length" in self.config.order else len(self.validators)
        self.validators[at:at] = list(extra)

    def run(self, sample: Sample) -> Result:
        return self.run_batch([sample])[0]

    def run_batch(self, samples: Sequence[Sample]) -> list[Result]:
        return self.start_batch(samples, ahead=False)()

    def start_batch(self, samples: Sequence[Sample], *, ahead: bool = True) -> Callable[[], list[Result]]:
        """Start checking `samples`; the returned function runs the chain and gives the results.

        A validator that can start early (length: its tokenizer runs in a thread, without the GIL)
        starts here on the batch as it came in, so it works while the caller does other things
        before finishing (the audit reads the next batch and stores the previous one) and while
        the Python checks ahead of it run. It is then handed the batch as they left it and
        recounts only the samples they replaced. `ahead=False`: the results are wanted at once, so
        a validator first in the chain has nothing to overlap and does not start early.
        """
        current = list(samples)
        early = {
            at: v.prefetch(current)  # type: ignore[attr-defined]
            for at, v in enumerate(self.validators)
            if hasattr(v, "prefetch") and (at > 0 or ahead)
        }
        return lambda: self._finish(current, early)

    def _finish(
        self, current: list[Sample], early: dict[int, Callable[[list[Sample]], list[Result]]]
    ) -> list[Result]:
        found: list[list[Verdict]] = [[] for _ in current]
        completion_tokens: list[int | None] = [None] * len(current)
        tokens: list[tuple[int, int] | None] = [None] * len(current)
        for at, validator in enumerate(self.validators):
            checked = early[at](current) if at in early else validator.check_batch(current)
            for i, result in enumerate(checked):
                current[i] = result.sample
                found[i].extend(result.verdicts)
                tokens[i] = result.tokens if result.tokens is not None else tokens[i]
                if result.completion_tokens is not None:
                    completion_tokens[i] = result.completion_tokens
        overrides = self.config.severity_overrides
        return [
            Result(sample, [apply_severity(v, overrides) for v in verdicts], counted, n)
            for sample, verdicts, counted, n in zip(current, found, tokens, completion_tokens, strict=True)
        ]
