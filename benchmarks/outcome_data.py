"""The outcome experiment's data: a RAG training set from real public records with planted defects,
and held-out eval items whose contexts and expected keywords never appear in training.

Source: LLaMA-Factory's `alpaca_en_demo.json` (Apache-2.0; copied unchanged into tests/data/), the
records with an `input`: the input is the retrieved context, the instruction the question, the
output the clean answer. Records the audit would not pass on their own (markdown lists, "As an AI"
boilerplate, placeholders, ...) are dropped first, so "clean" means what synthgate calls clean and
every finding on the training set is one we planted.

Every training record carries the same system prompt (as the seeds' sets did). Refusal records
(`REFUSAL_SHARE`) pair a question with another record's context and a refusal answer. The defects,
each on its own disjoint share of the answerable records (`DEFECT_RATES`), copy the seeds:

- `sys_open`: the answer opens with the system prompt verbatim, then answers (seed 000, section 6.1);
- `sys_narrate`: the answer narrates the instructions in its own words before answering;
- `qa_tail`: the answer is followed by invented `Question:`/`Answer:` pairs taken from other
  records (seed 000's synthesis data, the endless Q&A loop);
- `repeat`: the answer ends in a degenerate repeat of a fragment ("How does QLo. 0 Question: ...");
- `think_instr`: a `<think>` block restating the system prompt's instructions opens the answer
  (the seeds' thinking-mode contamination path).

Pure: no model, no store; `benchmarks/outcome.py` runs the experiment on what this builds.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgate.validators.refusal import is_refusal

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FILE = ROOT / "tests" / "data" / "alpaca_en_demo.json"
SOURCE = "hiyouga/LLaMA-Factory data/alpaca_en_demo.json (tests/data/alpaca_en_demo.json)"
SOURCE_LICENSE = "Apache-2.0"

SYSTEM_PROMPT = (
    "You are an assistant that answers questions about a retrieved context. Use only the provided "
    "context. Answer in concise prose without markdown headers or bullet points. Do not add questions "
    "of your own. If the context does not contain enough information, say so."
)
NARRATIONS = (
    "As instructed, I will use only the provided context and answer in concise prose without markdown "
    "headers or bullet points, and I will not add questions of my own.",
    "My instructions say to use only the provided context, to answer in concise prose without markdown "
    "headers or bullet points, and to say so if the context does not contain enough information.",
    "Following the rules I was given, I must use only the provided context, answer in concise prose "
    "without markdown headers or bullet points, and not add questions of my own.",
)
THINKS = (
    "The system prompt says: {sp} So I must answer from the context only, in prose.",
    "I am an assistant that answers questions about a retrieved context. The instructions: use only the "
    "provided context, answer in concise prose without markdown headers or bullet points, do not add "
    "questions of my own.",
)
REFUSALS = (
    "The provided context does not contain enough information to answer this question.",
    "The context does not mention anything that answers this question, so I cannot answer it from the "
    "context.",
    "There is no information in the provided context about this, so I cannot answer the question.",
)

REFUSAL_SHARE = 0.2
# Shares of the answerable training records; disjoint, the rest stay clean. sys_open + sys_narrate
# (30%) and qa_tail (20%, the seed's synthesis share) follow seed 000; repeat and think_instr are
# rarer, as in public sets.
DEFECT_RATES: dict[str, float] = {
    "sys_open": 0.2,
    "sys_narrate": 0.1,
    "qa_tail": 0.2,
    "repeat": 0.05,
    "think_instr": 0.1,
}
# The audit codes (prefixes) that must flag each planted defect; think_instr is repaired (stripped),
# which is the gate's answer to it: the instructions never reach a training target.
EXPECTED_CODES: dict[str, tuple[str, ...]] = {
    "sys_open": ("leak.",),
    "sys_narrate": ("leak.",),
    "qa_tail": ("loop.",),
    "repeat": ("loop.",),
    "think_instr": ("think.stripped",),
}

_STOP = set(
    "a an the and or but of to in on at for from by with as is are was were be been being it its this that "
    "these those there their they them he she his her we our you your i me my not no so if then than into "
    "about over under can could would should will shall may might must do does did has have had which who "
    "whom what when where why how all any each some such more most other also very just only".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_MARKDOWN = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#)", re.MULTILINE)
# What the audit would flag in a real record on its own (boilerplate, tables, e-mail addresses):
# such records are not "clean" sources.
_UNCLEAN = re.compile(r"as an ai|language model|\||@", re.IGNORECASE)


@dataclass(frozen=True)
class SourceRecord:
    """One real record: its context (alpaca input), question (instruction) and clean answer."""

    index: int
    context: str
    question: str
    answer: str


@dataclass
class BuiltSets:
    """The raw training records (with their planted defect), the eval items, and the counts."""

    train: list[dict[str, Any]]
    eval_items: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)

    def defect_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.train:
            counts[r["defect"]] = counts.get(r["defect"], 0) + 1
        return counts


def user_turn(context: str, question: str) -> str:
    """The user turn, laid out as `synthgate eval` lays out an item (EvalItem.user_message)."""
    return f"Context:\n{context}\n\nQuestion: {question}"


def load_source(path: Path = SOURCE_FILE, max_answer_words: int = 60) -> list[SourceRecord]:
    """Alpaca records with an input, a prose answer of at most `max_answer_words` words, and a context
    of at most 80 words (short rows keep a CPU run affordable)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    out, seen = [], set()
    for n, r in enumerate(rows):
        context, question, answer = r["input"].strip(), r["instruction"].strip(), r["output"].strip()
        if not context or not answer or _MARKDOWN.search(answer) or _UNCLEAN.search(answer):
            continue
        if len(answer.split()) > max_answer_words or len(context.split()) > 80 or is_refusal(answer):
            continue
        # One record per context: copies would be flagged (dup.exact_record), and an eval item's
        # context must never be a training record's.
        if context.lower() not in seen:
            seen.add(context.lower())
            out.append(SourceRecord(n, context, question, answer))
    return out


def expected_keywords(record: SourceRecord, limit: int = 3) -> list[str]:
    """Content words of the reference answer that also occur in the context, longest first: what a
    grounded answer should carry over. Falls back to the answer's own longest content words."""
    context_words = {w.lower() for w in _WORD.findall(record.context)}
    answer_words = []
    for w in _WORD.findall(record.answer):
        low = w.lower()
        if low not in _STOP and low not in answer_words:
            answer_words.append(low)
    shared = [w for w in answer_words if w in context_words]
    pool = shared if shared else answer_words
    return sorted(pool, key=lambda w: (-len(w), w))[:limit]


def _record(
    rid: str, task: str, context: str, question: str, answer: str, defect: str, source: int
) -> dict[str, Any]:
    return {
        "id": rid,
        "task_type": task,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_turn(context, question)},
            {"role": "assistant", "content": answer},
        ],
        "defect": defect,
        "source_index": source,
    }


def plant(defect: str, answer: str, others: Sequence[SourceRecord], rng: random.Random) -> str:
    """`answer` with `defect` planted (see the module docstring); "clean" returns it unchanged."""
    if defect == "clean":
        return answer
    if defect == "sys_open":
        return f"{SYSTEM_PROMPT}\n\n{answer}"
    if defect == "sys_narrate":
        return f"{rng.choice(NARRATIONS)} {answer}"
    if defect == "qa_tail":
        pairs = [f"Question: {o.question}\nAnswer: {o.answer}" for o in rng.sample(list(others), 2)]
        return answer + "\n\n" + "\n\n".join(pairs)
    if defect == "repeat":
        words = answer.split()
        fragment = " ".join(words[: min(4, len(words))]).rstrip(".,;:")
        return answer + " " + " ".join([f"{fragment}. 0"] * 12)
    if defect == "think_instr":
        return "<think>" + rng.choice(THINKS).format(sp=SYSTEM_PROMPT) + "</think>\n\n" + answer
    raise ValueError(f"unknown defect {defect!r}")


def _assign(n: int, rng: random.Random) -> list[str]:
    """Exactly round(rate * n) records per defect, the rest clean, shuffled."""
    labels = []
    for name, rate in DEFECT_RATES.items():
        labels += [name] * round(rate * n)
    labels += ["clean"] * (n - len(labels))
    rng.shuffle(labels)
    return labels


def build_sets(
    n_train: int, n_eval: int, seed: int = 0, source: Sequence[SourceRecord] | None = None
) -> BuiltSets:
    """`n_train` raw training records and `n_eval` held-out eval items, all from distinct source
    records (an eval item's context, question and keywords never occur in training)."""
    pool = list(source if source is not None else load_source())
    rng = random.Random(seed)
    rng.shuffle(pool)
    n_train_refusal = round(REFUSAL_SHARE * n_train)
    n_eval_refusal = round(REFUSAL_SHARE * n_eval)
    # Each record has its own source row; a refusal needs a second one for its (unrelated) context.
    need = n_train + n_train_refusal + n_eval + n_eval_refusal
    if need > len(pool):
        raise ValueError(f"{need} source records needed, {len(pool)} available")
    eval_pool = pool[: n_eval + n_eval_refusal]  # grounded items + two rows per refusal item
    train_pool = pool[len(eval_pool) :]
    train: list[dict[str, Any]] = []
    answerable = train_pool[: n_train - n_train_refusal]
    labels = _assign(len(answerable), rng)
    for rec, defect in zip(answerable, labels, strict=True):
        others = [o for o in answerable if o is not rec]
        answer = plant(defect, rec.answer, others, rng)
        train.append(
            _record(f"tr-{rec.index}", "grounded", rec.context, rec.question, answer, defect, rec.index)
        )
    rest = train_pool[len(answerable) :]
    for k in range(n_train_refusal):
        asked, ctx = rest[2 * k], rest[2 * k + 1]
        train.append(
            _record(
                f"tr-ref-{asked.index}",
                "refusal",
                ctx.context,
                asked.question,
                rng.choice(REFUSALS),
                "clean",
                asked.index,
            )
        )
    rng.shuffle(train)
    eval_items = []
    grounded = eval_pool[: n_eval - n_eval_refusal]
    for rec in grounded:
        eval_items.append(
            {
                "id": f"ev-{rec.index}",
                "question": rec.question,
                "context": rec.context,
                "expected_keywords": expected_keywords(rec),
                "task_type": "grounded",
                "system_prompt": SYSTEM_PROMPT,
            }
        )
    extra = eval_pool[len(grounded) :]
    for k in range(n_eval_refusal):
        asked, ctx = extra[2 * k], extra[2 * k + 1]
        eval_items.append(
            {
                "id": f"ev-ref-{asked.index}",
                "question": asked.question,
                "context": ctx.context,
                "expected_keywords": [],
                "task_type": "refusal",
                "system_prompt": SYSTEM_PROMPT,
            }
        )
    info = {
        "source": SOURCE,
        "license": SOURCE_LICENSE,
        "source_records_usable": len(pool),
        "seed": seed,
        "system_prompt": SYSTEM_PROMPT,
        "refusal_share": REFUSAL_SHARE,
        "defect_rates_of_answerable": DEFECT_RATES,
    }
    built = BuiltSets(train=train, eval_items=eval_items, info=info)
    built.info["defect_counts"] = built.defect_counts()
    return built


def write_jsonl(rows: Sequence[dict[str, Any]], path: Path, drop: Sequence[str] = ()) -> Path:
    """Write `rows` as JSONL without the `drop` keys (the planted label must not reach the audit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: v for k, v in r.items() if k not in drop}, ensure_ascii=False) + "\n")
    return path


def trl_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw records as TRL conversational prompt/completion rows, exactly as written (no repair)."""
    return [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records]
