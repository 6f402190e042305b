"""Eval metrics: score each answer with the audit's own validators and aggregate one arm.

The same checks that gate the training data judge the trained model's answers, so "parroting"
or "looping" means the same thing before and after fine-tuning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from synthgate.schemas.chain_config import FormatConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.training.eval_questions import EvalQuestion
from synthgate.validators.format import FormatValidator
from synthgate.validators.leakage import LeakageValidator
from synthgate.validators.looping import LoopingValidator
from synthgate.validators.refusal import is_refusal

REFUSAL_TASK = "refusal"


@dataclass(frozen=True)
class Generation:
    """One generated answer: its text, its share of the batch's wall time, whether it stopped."""

    text: str
    seconds: float
    stopped: bool = True


@dataclass(frozen=True)
class ItemScore:
    """What the metrics saw in one answer (None: the metric does not apply to this item)."""

    keyword_coverage: float | None
    format_ok: bool | None
    parroted: bool | None
    looped: bool
    refused: bool
    words: int
    codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArmMetrics:
    """One arm's metrics over the eval set; None where no item qualifies (e.g. no refusal items)."""

    items: int
    keyword_coverage: float | None
    format_compliance: float | None
    parroting_rate: float | None
    looping_rate: float
    refusal_accuracy: float
    refusal_recall: float | None
    false_refusal_rate: float | None
    mean_words: float
    mean_latency_s: float
    truncated_rate: float


METRIC_NAMES = tuple(f.name for f in fields(ArmMetrics) if f.name != "items")


def keyword_coverage(text: str, keywords: Sequence[str]) -> float | None:
    """Share of `keywords` found in `text`, case-insensitively; None without keywords.

    >>> keyword_coverage("QLoRA uses NF4 and paged optimizers.", ["nf4", "Paged", "double"])
    0.6666666666666666
    """
    if not keywords:
        return None
    low = text.lower()
    return sum(1 for k in keywords if k.lower() in low) / len(keywords)


class OutputScorer:
    """Scores answers with the audit's validators; one instance serves every arm."""

    def __init__(self, format_config: FormatConfig | None = None) -> None:
        self._format = FormatValidator(format_config)
        self._judged = set(self._format.config.prose_task_types) | set(self._format.config.json_schemas)
        self._leakage = LeakageValidator()
        self._looping = LoopingValidator()

    def score(self, item: EvalQuestion, text: str) -> ItemScore:
        sample = Sample(
            system_prompt=item.system_prompt,
            prompt=[Message(role="user", content=item.user_message())],
            completion=text,
            task_type=item.task_type,
        )
        formatting = self._format.check(sample).verdicts
        leaks = self._leakage.check(sample).verdicts if item.system_prompt else []
        loops = self._looping.check(sample).verdicts
        return ItemScore(
            keyword_coverage=keyword_coverage(text, item.expected_keywords),
            format_ok=not formatting if item.task_type in self._judged else None,
            parroted=bool(leaks) if item.system_prompt else None,
            looped=bool(loops),
            refused=is_refusal(text),
            words=len(text.split()),
            codes=sorted({v.code for v in formatting + leaks + loops}),
        )


def score_arm(items: Sequence[EvalQuestion], generations: Sequence[Generation]) -> ArmMetrics:
    """One arm's metrics from its answers (one Generation per item, in item order)."""
    if len(items) != len(generations):
        raise ValueError(f"{len(generations)} answers for {len(items)} eval items")
    scorer = OutputScorer()
    return aggregate_arm(
        items, generations, [scorer.score(i, g.text) for i, g in zip(items, generations, strict=True)]
    )


def aggregate_arm(
    items: Sequence[EvalQuestion], gens: Sequence[Generation], scores: Sequence[ItemScore]
) -> ArmMetrics:
    """One arm's metrics from its items, answers and the per-item scores already computed."""
    refusal_items = [s.refused for i, s in zip(items, scores, strict=True) if i.task_type == REFUSAL_TASK]
    other_items = [s.refused for i, s in zip(items, scores, strict=True) if i.task_type != REFUSAL_TASK]
    return ArmMetrics(
        items=len(items),
        keyword_coverage=_mean(s.keyword_coverage for s in scores),
        format_compliance=_mean(s.format_ok for s in scores),
        parroting_rate=_mean(s.parroted for s in scores),
        looping_rate=_mean(s.looped for s in scores) or 0.0,
        refusal_accuracy=_mean(
            s.refused == (i.task_type == REFUSAL_TASK) for i, s in zip(items, scores, strict=True)
        )
        or 0.0,
        refusal_recall=_mean(refusal_items),
        false_refusal_rate=_mean(other_items),
        mean_words=_mean(s.words for s in scores) or 0.0,
        mean_latency_s=_mean(g.seconds for g in gens) or 0.0,
        truncated_rate=_mean(not g.stopped for g in gens) or 0.0,
    )


def _mean(values: Iterable[float | bool | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
