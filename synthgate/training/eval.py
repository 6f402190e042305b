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

An eval item (one JSONL line) and the user turn it becomes:

>>> item = EvalItem(question="What does QLoRA train?", context="QLoRA trains adapters.",
...                 expected_keywords=["adapters"], task_type="grounded")
>>> item.user_message()
'Context:\\nQLoRA trains adapters.\\n\\nQuestion: What does QLoRA train?'
>>> score_arm([item], [Generation("QLoRA trains low-rank Adapters.", 0.5)]).keyword_coverage
1.0
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthgate.errors import InputError
from synthgate.schemas.chain_config import FormatConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.store import Store
from synthgate.validators.format import FormatValidator
from synthgate.validators.leakage import LeakageValidator
from synthgate.validators.looping import LoopingValidator
from synthgate.validators.sets import is_refusal

# oneDNN's AMX kernels die with "Illegal instruction" on some Xeons; cap the ISA before torch
# starts, as training does (a no-op when already set or torch was imported first).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

DEFAULT_K = 3
DEFAULT_MAX_NEW_TOKENS = 128
ARMS = {"zero_shot": "base zero-shot", "few_shot": "base few-shot", "adapter": "base + adapter"}
REFUSAL_TASK = "refusal"


class EvalItem(BaseModel):
    """One held-out question; `context` and `system_prompt` are optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, description="Optional item id, copied into the results.")
    question: str = Field(min_length=1, description="The user's question.")
    context: str | None = Field(default=None, description="Retrieved passage(s) the answer must use.")
    expected_keywords: list[str] = Field(
        default_factory=list, description="Words or phrases a good answer contains (case-insensitive)."
    )
    task_type: str = Field(default="grounded", description="grounded, synthesis, refusal, ...")
    system_prompt: str | None = Field(default=None, description="System prompt the answer is given under.")

    def user_message(self) -> str:
        """The user turn, laid out like synthgate's RAG training data."""
        if self.context:
            return f"Context:\n{self.context}\n\nQuestion: {self.question}"
        return self.question


@dataclass(frozen=True)
class Shot:
    """One few-shot example: a prior user turn and the assistant's answer."""

    user: str
    assistant: str


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


# --- inputs --------------------------------------------------------------------------------


def load_eval_items(path: str | os.PathLike[str]) -> list[EvalItem]:
    """The items of a JSONL eval file; InputError naming the line and field of a bad one."""
    file = Path(path)
    if not file.is_file():
        raise InputError("eval file not found", path=str(file), hint="Pass a JSONL file of eval items.")
    items = []
    with file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                items.append(EvalItem.model_validate_json(line))
            except ValidationError as err:
                first = err.errors()[0]
                raise InputError(
                    first["msg"],
                    path=str(file),
                    record=number,
                    field=".".join(map(str, first["loc"])) or None,
                    hint="Each line needs question, expected_keywords and task_type; context and "
                    "system_prompt are optional.",
                ) from None
    if not items:
        raise InputError("holds no eval items", path=str(file))
    return items


def pick_shots(candidates: Iterable[Shot], k: int = DEFAULT_K, seed: int = 0) -> list[Shot]:
    """k examples ranked by a hash of (seed, text): the same data always gives the same shots.

    >>> pool = [Shot(f"q{i}", f"a{i}") for i in range(10)]
    >>> pick_shots(pool, 2) == pick_shots(reversed(pool), 2)
    True
    """

    def rank(shot: Shot) -> str:
        return hashlib.sha256(f"{seed}\0{shot.user}\0{shot.assistant}".encode()).hexdigest()

    return sorted(set(candidates), key=rank)[:k]


def shots_from_export(export_dir: str | os.PathLike[str], k: int = DEFAULT_K, seed: int = 0) -> list[Shot]:
    """k few-shot examples from a verified export's train split."""
    from synthgate.training.manifest import verify_export
    from synthgate.training.sft import read_split, split_files

    folder = Path(export_dir)
    train_file, _ = split_files(verify_export(folder), folder)
    shots = []
    for row in read_split(folder / train_file):
        users = [m["content"] for m in row["prompt"] if m.get("role") == "user"]
        if users:
            shots.append(Shot(users[-1], row["completion"][-1]["content"]))
    return pick_shots(shots, k, seed)


def shots_from_version(store: Store, version_id: str, k: int = DEFAULT_K, seed: int = 0) -> list[Shot]:
    """k few-shot examples from a stored version's members."""
    shots = []
    for sample in store.versions.iter_samples(version_id):
        users = [m.content for m in sample.prompt if m.role == "user"]
        if users:
            shots.append(Shot(users[-1], sample.completion))
    return pick_shots(shots, k, seed)


def build_messages(item: EvalItem, shots: Sequence[Shot] = ()) -> list[dict[str, str]]:
    """The conversation for one item: its system prompt, the shots as prior turns, its question."""
    messages = [{"role": "system", "content": item.system_prompt}] if item.system_prompt else []
    for shot in shots:
        messages += [{"role": "user", "content": shot.user}, {"role": "assistant", "content": shot.assistant}]
    messages.append({"role": "user", "content": item.user_message()})
    return messages


# --- metrics -------------------------------------------------------------------------------


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

    def score(self, item: EvalItem, text: str) -> ItemScore:
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


def score_arm(items: Sequence[EvalItem], generations: Sequence[Generation]) -> ArmMetrics:
    """One arm's metrics from its answers (one Generation per item, in item order)."""
    if len(items) != len(generations):
        raise ValueError(f"{len(generations)} answers for {len(items)} eval items")
    scorer = OutputScorer()
    return _aggregate(
        items, generations, [scorer.score(i, g.text) for i, g in zip(items, generations, strict=True)]
    )


def _aggregate(
    items: Sequence[EvalItem], gens: Sequence[Generation], scores: Sequence[ItemScore]
) -> ArmMetrics:
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


# --- generation ----------------------------------------------------------------------------


def evaluate_arms(
    items: Sequence[EvalItem],
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


def _arm(name: str, items: Sequence[EvalItem], gens: list[Generation], scorer: OutputScorer) -> ArmResult:
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
    return ArmResult(name=name, label=ARMS[name], metrics=_aggregate(items, gens, scores), outputs=outputs)


def write_report(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Write the report as JSON (settings, per-arm metrics and answers); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
