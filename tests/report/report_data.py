"""Data and settings the report tests share: real alpaca records with planted markup and a key, the
demo set, the browser's path and flags."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pipelines.llm_server import LLMServer, ScriptedLLM
from pipelines.pipeline_helpers import DOCS, FAST_CHAIN, base_config
from planted_secrets import KEYS

from synthgate.audit.runner import AuditOptions, audit
from synthgate.pipelines.config import GenerateConfig
from synthgate.pipelines.runner import generate
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import Store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "data" / "poisoned_rag.jsonl"
ALPACA = ROOT / "tests" / "data" / "alpaca_en_demo_50.json"
GSM8K = ROOT / "tests" / "data" / "gsm8k_test_200.jsonl"
MTBENCH = ROOT / "tests" / "data" / "mtbench_questions.jsonl"
CHROMIUM = os.environ.get("SYNTHGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCRIPT = "<script>alert(1)</script>"
PLANTED_KEY = KEYS["openai"]


def alpaca() -> list[dict]:
    return json.loads(ALPACA.read_text())


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def hostile_records() -> list[dict]:
    """Real alpaca records, two of them carrying markup and a planted API key."""
    records = [
        {"prompt": r["instruction"] + ("\n\n" + r["input"] if r["input"] else ""), "completion": r["output"]}
        for r in alpaca()[:12]
    ]
    records[3]["completion"] += f"\n\nPaste this into the page: {SCRIPT} and call it with {PLANTED_KEY}."
    records[5]["prompt"] = '<img src="x" onerror="alert(2)"> ' + records[5]["prompt"]
    return records


PERSONAS = ("student", "engineer", "analyst")
TASKS = ("grounded", "synthesis")


def generated_records() -> list[dict]:
    """Real alpaca answers labelled as a generation run labels its samples: task type, persona and
    critic scores (scores 3, 4 or 5 on two rubric items)."""
    out = []
    for i, r in enumerate(alpaca()[12:30]):
        score = 3 + i % 3
        meta = {"persona": PERSONAS[i % 3], "critic_scores": {"grounded": score, "fluent": score}}
        out.append(
            {
                "prompt": r["instruction"],
                "completion": r["output"],
                "task_type": TASKS[i % 2],
                "metadata": meta,
            }
        )
    return out


def preference_records() -> list[dict]:
    """Pairs from real alpaca answers: the rejected side is another record's answer; one pair has
    identical sides, one a looping rejected side."""
    rows = alpaca()[:10]
    pairs = [
        {"prompt": r["instruction"], "chosen": r["output"], "rejected": rows[(i + 1) % len(rows)]["output"]}
        for i, r in enumerate(rows)
    ]
    pairs[2]["rejected"] = pairs[2]["chosen"]
    pairs[4]["rejected"] = "I think so. " * 3 + "so so so so " * 20
    return pairs


def audited(store: Store, path: Path, max_length: int = 512, **options) -> str:
    chain = ChainConfig.model_validate({"length": {"max_length": max_length}})
    return audit(path, store, AuditOptions(chain=chain, **options)).dataset_id


def contaminated_records() -> list[dict]:
    """Real alpaca records plus four that copy eval items: GSM8K questions 5, 6 and 7 asked verbatim
    (one of them twice), and MT-bench question 84's two turns as one prompt."""
    gsm = [json.loads(line)["question"] for line in GSM8K.read_text().splitlines()]
    mt = [json.loads(line) for line in MTBENCH.read_text().splitlines()]
    turns = next(q["turns"] for q in mt if q["question_id"] == 84)
    records = [{"prompt": r["instruction"], "completion": r["output"]} for r in alpaca()[30:40]]
    answer = "Let me work through it step by step; the total comes to the amount asked for."
    records += [{"prompt": gsm[i], "completion": answer} for i in (5, 6, 7)]
    records.append({"prompt": gsm[6] + " Show your work.", "completion": answer + " Done."})
    records.append({"prompt": "\n".join(turns), "completion": "Dear friend, you would shine on stage."})
    return records


# The pipeline tests' validators plus the length check, so the run's records carry token counts.
GENERATE_CHAIN = {"order": [*FAST_CHAIN["order"], "length"]}
CRITIC_HIGH = 4  # jobs the scripted critic scores 5 (the others get 4)


def generated_run(store: Store, tmp: Path) -> str:
    """A real generation run (12 kept samples) against the pipeline tests' scripted OpenAI server on
    127.0.0.1, over their real documents; returns the run's id (its kept samples are a dataset)."""
    docs = tmp / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    cfg = base_config("URL", count=12, concurrency=4, validators=GENERATE_CHAIN)
    with (
        pytest.MonkeyPatch.context() as mp,
        LLMServer(ScriptedLLM(critic=[["high"]] * CRITIC_HIGH)) as server,
    ):
        mp.setenv("OPENAI_API_KEY", "sk-test-Zq9VbN3xK7pLm2Rt8WcY4hJd")
        for role in ("teacher", "critic"):
            cfg[role]["base_url"] = f"{server.url}/v1"
        state = generate(GenerateConfig.model_validate(cfg), store, base=tmp)
    assert state.status == "ok" and state.dataset_id is not None
    return state.run_id
