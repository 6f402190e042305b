"""Before/after evaluation: base zero-shot, base few-shot and base + adapter on one eval file.

The seeds' lesson is that a few good examples in the prompt often beat a fine-tune of a small
model; `evaluate_arms` puts the three side by side with the same greedy decoding and the same
metrics, the audit's own validators applied to the answers:

- keyword coverage: share of an item's `expected_keywords` found in the answer (case-insensitive);
- format compliance: answers of prose task types without markdown headers or lists (FormatValidator);
- parroting rate: answers that recite the item's system prompt (LeakageValidator, `leak.*`);
- looping rate: answers with invented Q/A pairs, repeats or trailing loops (LoopingValidator);
- refusal accuracy: refusal items refuse and the others do not (`is_refusal`), with recall on
  refusal items and the false-refusal rate on the rest;
- mean words per answer, mean latency per answer (batch time / batch size), truncated share.

This module loads the model and runs the arms; questions and shots come from eval_questions, the
metrics from eval_metrics (all re-exported here).

An eval item (one JSONL line) and the user turn it becomes:

>>> item = EvalQuestion(question="What does QLoRA train?", context="QLoRA trains adapters.",
...                 expected_keywords=["adapters"], task_type="grounded")
>>> item.user_message()
'Context:\\nQLoRA trains adapters.\\n\\nQuestion: What does QLoRA train?'
>>> score_arm([item], [Generation("QLoRA trains low-rank Adapters.", 0.5)]).keyword_coverage
1.0
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from synthgate.errors import InputError
from synthgate.training.eval_metrics import (
    METRIC_NAMES,
    REFUSAL_TASK,
    ArmMetrics,
    Generation,
    ItemScore,
    OutputScorer,
    aggregate_arm,
    keyword_coverage,
    score_arm,
)
from synthgate.training.eval_questions import (
    DEFAULT_K,
    EvalQuestion,
    Shot,
    build_messages,
    load_eval_questions,
    pick_shots,
    shots_from_export,
    shots_from_version,
)

__all__ = [
    "ARMS",
    "DEFAULT_K",
    "DEFAULT_MAX_NEW_TOKENS",
    "METRIC_NAMES",
    "REFUSAL_TASK",
    "ArmMetrics",
    "ArmResult",
    "EvalQuestion",
    "EvalReport",
    "Generation",
    "ItemScore",
    "OutputScorer",
    "Shot",
    "build_messages",
    "evaluate_arms",
    "generate",
    "keyword_coverage",
    "load_eval_questions",
    "pick_shots",
    "score_arm",
    "shots_from_export",
    "shots_from_version",
    "write_report",
]

# oneDNN's AMX kernels die with "Illegal instruction" on some Xeons; cap the ISA before torch
# starts, as training does (a no-op when already set or torch was imported first).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

DEFAULT_MAX_NEW_TOKENS = 128
ARMS = {"zero_shot": "base zero-shot", "few_shot": "base few-shot", "adapter": "base + adapter"}


@dataclass(frozen=True)
class ArmResult:
    """One arm: its metrics and every answer with its per-item scores."""

    name: str
    label: str
    metrics: ArmMetrics
    outputs: list[dict[str, Any]]


@dataclass(frozen=True)
class EvalReport:
    """Every arm that ran, in order, and the settings they ran with."""

    arms: list[ArmResult]
    settings: dict[str, Any]

    def arm(self, name: str) -> ArmResult:
        return next(a for a in self.arms if a.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "arms": {
                a.name: {"label": a.label, "metrics": asdict(a.metrics), "outputs": a.outputs}
                for a in self.arms
            },
        }


# --- generation ----------------------------------------------------------------------------


def evaluate_arms(
    items: Sequence[EvalQuestion],
    base_model: str | None = None,
    adapter: str | os.PathLike[str] | None = None,
    shots: Sequence[Shot] = (),
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 8,
) -> EvalReport:
    """Run zero-shot, few-shot (when `shots` is not empty) and adapter (when given) arms.

    The base model is loaded once; the adapter arm wraps it with peft after the base arms ran.
    Decoding is greedy and stops at the tokenizer's end of turn or eos.
    """
    if not items:
        raise InputError("no eval items to evaluate")
    if max_new_tokens < 1 or batch_size < 1:
        raise InputError(
            f"max_new_tokens and batch_size must be positive, got {max_new_tokens}, {batch_size}"
        )
    adapter_dir = _check_adapter(adapter) if adapter is not None else None
    from synthgate.models.embedded import PLAIN_CHAT_TEMPLATE, load_tokenizer
    from synthgate.models.student import load_causal_lm

    model, tokenizer = load_causal_lm(base_model)
    if tokenizer.chat_template is None:  # the same fallback layout training uses
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    model.eval()
    # One throw-away token first: the first generate call pays one-off setup costs that would
    # otherwise be billed to the zero-shot arm's latency.
    generate(model, tokenizer, [build_messages(items[0])], 1, 1)
    scorer = OutputScorer()
    plans: list[tuple[str, Sequence[Shot]]] = [("zero_shot", ())]
    if shots:
        plans.append(("few_shot", shots))
    arms = []
    for name, arm_shots in plans:
        convs = [build_messages(i, arm_shots) for i in items]
        arms.append(_arm(name, items, generate(model, tokenizer, convs, max_new_tokens, batch_size), scorer))
    if adapter_dir is not None:
        from peft import PeftModel

        with warnings.catch_warnings():  # peft calls an API transformers deprecated; nothing to act on
            warnings.simplefilter("ignore", FutureWarning)
            tuned = PeftModel.from_pretrained(model, str(adapter_dir))
        tuned.eval()
        # The adapter folder's tokenizer carries the chat template the adapter was trained with.
        has_tokenizer = (adapter_dir / "tokenizer_config.json").is_file()
        tok = load_tokenizer(str(adapter_dir)) if has_tokenizer else tokenizer
        if tok.chat_template is None:
            tok.chat_template = tokenizer.chat_template
        convs = [build_messages(i) for i in items]
        arms.append(_arm("adapter", items, generate(tuned, tok, convs, max_new_tokens, batch_size), scorer))
    settings = {
        "base_model": base_model or "default",
        "adapter": None if adapter_dir is None else str(adapter_dir),
        "k": len(shots),
        "max_new_tokens": max_new_tokens,
        "decoding": "greedy",
        "items": len(items),
    }
    return EvalReport(arms=arms, settings=settings)


def generate(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    max_new_tokens: int,
    batch_size: int,
) -> list[Generation]:
    """Greedy answers to `conversations`, batched by prompt length; in input order."""
    import torch
    from transformers import GenerationConfig

    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = _stop_ids(model, tokenizer)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops, pad_token_id=pad_id
    )
    texts = [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations
    ]
    # Tokenized without special tokens, as in training: the template already writes <bos>.
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    out: list[Generation | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        enc = tokenizer([texts[r] for r in rows], return_tensors="pt", padding=True, add_special_tokens=False)
        began = time.perf_counter()
        with torch.inference_mode():
            generated = model.generate(**enc, generation_config=config)
        seconds = (time.perf_counter() - began) / len(rows)
        for r, ids in zip(rows, generated[:, enc["input_ids"].shape[1] :].tolist(), strict=True):
            end = next((n for n, t in enumerate(ids) if t in stops), None)
            text = tokenizer.decode(ids[:end], skip_special_tokens=True).strip()
            out[r] = Generation(text=text, seconds=seconds, stopped=end is not None)
    return [g for g in out if g is not None]


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    for source in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
        ids.update([source] if isinstance(source, int) else (source or []))
    end_of_turn = tokenizer.get_vocab().get("<end_of_turn>")  # Gemma's turns end here, not at <eos>
    if end_of_turn is not None:
        ids.add(end_of_turn)
    return sorted(ids)


def _check_adapter(adapter: str | os.PathLike[str]) -> Path:
    folder = Path(adapter)
    if not (folder / "adapter_config.json").is_file():
        raise InputError(
            "is not a LoRA adapter folder (no adapter_config.json)",
            path=str(folder),
            hint="Pass the --out folder of `synthgate train`.",
        )
    return folder


def _arm(name: str, items: Sequence[EvalQuestion], gens: list[Generation], scorer: OutputScorer) -> ArmResult:
    scores = [scorer.score(i, g.text) for i, g in zip(items, gens, strict=True)]
    outputs = [
        {
            "index": n,
            "id": i.id,
            "task_type": i.task_type,
            "text": g.text,
            "seconds": round(g.seconds, 4),
            "stopped": g.stopped,
            **asdict(s),
        }
        for n, (i, g, s) in enumerate(zip(items, gens, scores, strict=True))
    ]
    return ArmResult(name=name, label=ARMS[name], metrics=aggregate_arm(items, gens, scores), outputs=outputs)


def write_report(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Write the report as JSON (settings, per-arm metrics and answers); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
