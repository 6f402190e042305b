"""Turn a stored audit into files (per-record report, summary) and a decision (exit status)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgate.store import Store
from synthgate.validators.preference import side_of


def write_report(store: Store, dataset_id: str, path: str | Path) -> int:
    """One JSON line per input record, in input order: index, id, status, codes, and the `shard`
    (file path) and `line` (1-based, null for formats without lines) the record was read from.

    Lines of preference pairs add `side_codes`: {"chosen": [...], "rejected": [...]}, the codes
    each side's own chain verdicts carry (pair-level `pref.*` codes appear in `codes` only).
    """
    info = store.datasets.get(dataset_id)
    sides = _side_codes(store, dataset_id) if "preference" in (info.summary or {}) else None
    shards = [s["path"] for s in (info.summary or {}).get("shards", [])]
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for row in store.report_rows(dataset_id):
            line: dict[str, Any] = {
                "index": row.index,
                "id": row.id,
                "status": row.status,
                "codes": row.codes,
                "shard": shard_path(shards, row.shard),
                "line": row.line,
            }
            if sides is not None and row.id is not None:  # unreadable records are not pairs
                found = sides.get(row.index, {})
                line["side_codes"] = {side: sorted(found.get(side, ())) for side in ("chosen", "rejected")}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n


def shard_path(shards: list[str], shard: int | None) -> str | None:
    """The file a record was read from, by its number in the summary's `shards`; None when unknown."""
    return shards[shard] if shard is not None and shard < len(shards) else None


def _side_codes(store: Store, dataset_id: str) -> dict[int, dict[str, set[str]]]:
    out: dict[int, dict[str, set[str]]] = {}
    for index, v in store.verdicts.for_dataset(dataset_id):
        side = side_of(v)
        if side is not None:
            out.setdefault(index, {}).setdefault(side, set()).add(v.code)
    return out


def summary(store: Store, dataset_id: str) -> dict[str, Any]:
    """The machine-readable summary: counts per status and code, set-level findings, the shapes the
    records were read as (`read_as`) and the fields kept as metadata (`extra_fields`: name -> records),
    the set's diversity (when set checks ran) and, for preference data, pair counts."""
    info = store.datasets.get(dataset_id)
    stored = info.summary or {}
    by_validator: dict[str, dict[str, int]] = {}
    for _, v in store.verdicts.for_dataset(dataset_id):
        codes = by_validator.setdefault(v.validator, {})
        codes[v.code] = codes.get(v.code, 0) + 1
    out = {
        "dataset_id": dataset_id,
        # A generated dataset has no file: its source is the run that wrote it.
        "source": info.source_path or (f"generation run {info.run_id}" if info.run_id else None),
        "records": stored.get("records"),
        "shards": stored.get("shards", []),
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
    for section in ("read_as", "extra_fields", "diversity", "preference"):
        if section in stored:
            out[section] = stored[section]
    return out


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
