"""Shared test data for the pipeline tests: documents and the issue's minimal config."""

from __future__ import annotations

from typing import Any

DOCS = {
    "lora.md": (
        "# LoRA\n\nLow-rank adaptation trains two small matrices beside each frozen weight matrix. "
        "The rank of those matrices decides how many parameters are trained. A rank of eight is a "
        "common starting point for instruction tuning. The frozen base weights are never changed, so "
        "one base model can serve many adapters. Adapters can be merged into the base weights after "
        "training for faster inference."
    ),
    "quant.md": (
        "# Quantization\n\nQuantization stores weights with fewer bits than the original floats. "
        "Four-bit formats cut memory use by about four times compared with sixteen-bit weights. "
        "QLoRA trains adapters on top of a four-bit base model. The adapters themselves stay in "
        "sixteen-bit precision during training. Accuracy loss from four-bit storage is usually small "
        "for large models."
    ),
    "eval.md": (
        "# Evaluation\n\nA held-out evaluation set must never overlap with the training data. "
        "Contamination makes benchmark scores look better than the model really is. N-gram overlap "
        "checks find copied benchmark items in training sets. Evaluation should use the same chat "
        "template as training. Small models are sensitive to prompt format changes."
    ),
}

FAST_CHAIN = {"order": ["thinking", "leakage", "looping", "artifacts", "secrets", "format"]}


def base_config(url: str, **overrides: Any) -> dict[str, Any]:
    """The issue's minimal config, pointed at `url`, with test-speed retries."""
    fast = {"backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5}
    cfg: dict[str, Any] = {
        "name": "rag-qa",
        "store": "synthgate.duckdb",
        "sources": {"documents": ["docs/*.md"], "chunk_chars": 300, "overlap_sentences": 1},
        "tasks": {"grounded": 0.6, "synthesis": 0.2, "refusal": 0.2},
        "personas": "builtin",
        "teacher": {
            "backend": "openai",
            "model": "teacher-x",
            "base_url": f"{url}/v1",
            "api_key_env": "OPENAI_API_KEY",
            "params": {"temperature": 0.7, "max_tokens": 512},
            **fast,
        },
        "critic": {
            "backend": "openai",
            "model": "critic-x",
            "base_url": f"{url}/v1",
            "api_key_env": "OPENAI_API_KEY",
            "threshold": 3.5,
            **fast,
        },
        "count": 6,
        "concurrency": 4,
        "max_length": 2048,
        "validators": FAST_CHAIN,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg
