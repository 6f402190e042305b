"""Turn a stored audit into files (per-record report, summary) and a decision (exit status)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgate.store import Store


def write_report(store: Store, dataset_id: str, path: str | Path) -> int:
    """One JSON line per input record, in input order: index, id, status, codes."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for row in store.report_rows(dataset_id):
            line = {"index": row.index, "id": row.id, "status": row.status, "codes": row.codes}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n


def summary(store: Store, dataset_id: str) -> dict[str, Any]:
    """The machine-readable summary: counts per status and code, and set-level findings."""
    info = store.datasets.get(dataset_id)
    by_validator: dict[str, dict[str, int]] = {}
    for _, v in store.verdicts.for_dataset(dataset_id):
        codes = by_validator.setdefault(v.validator, {})
        codes[v.code] = codes.get(v.code, 0) + 1
    return {
        "dataset_id": dataset_id,
        "source": info.source_path,
        "records": (info.summary or {}).get("records"),
        "status_counts": store.status_counts(dataset_id),
        "codes": store.code_counts(dataset_id),
        "verdicts_by_validator": by_validator,
        "set_findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "message": f.message,
                "count": f.count,
                "share": f.share,
                "details": f.details,
            }
            for f in store.datasets.findings(dataset_id)
        ],
    }


def write_summary(store: Store, dataset_id: str, path: str | Path) -> dict[str, Any]:
    data = summary(store, dataset_id)
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    return data


def parse_fail_on(spec: str) -> list[str]:
    """`block` (default), `warn`, `none`, or comma-separated code prefixes (`leak.,loop.`)."""
    items = [s.strip() for s in spec.split(",") if s.strip()]
    return items or ["block"]


def should_fail(store: Store, dataset_id: str, fail_on: list[str]) -> bool:
    """Whether the audit's findings meet the user's failure condition (exit status 1)."""
    if "none" in fail_on:
        return False
    if "block" in fail_on and store.status_counts(dataset_id).get("fail", 0) > 0:
        return True
    if "warn" in fail_on:
        if any(v.status == "fail" for _, v in store.verdicts.for_dataset(dataset_id)):
            return True
        if store.datasets.findings(dataset_id):
            return True
    prefixes = [p for p in fail_on if p not in ("block", "warn", "none")]
    if prefixes:
        codes = set(store.code_counts(dataset_id))
        codes |= {f.code for f in store.datasets.findings(dataset_id)}
        return any(c.startswith(p) for c in codes for p in prefixes)
    return False
