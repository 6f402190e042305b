"""Data and settings the report tests share: real alpaca records with planted markup and a key, the
demo set, the browser's path and flags."""

from __future__ import annotations

import json
import os
from pathlib import Path

from planted_secrets import KEYS

from synthgate.audit.runner import AuditOptions, audit
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import Store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "data" / "poisoned_rag.jsonl"
ALPACA = ROOT / "tests" / "data" / "alpaca_en_demo_50.json"
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
