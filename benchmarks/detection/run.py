"""Precision and recall of synthgate's per-record verdicts against hand labels, per set and family.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/detection/run.py [NAMES...] [--show-errors] [--json OUT]

Each set's labelled records (`data/<name>.jsonl`, made by prepare.py) are audited with the real
`synthgate audit` command (in-process, so the tokenizer loads once): current chain defaults, the
set's format flags, a fresh DuckDB in a temp folder. A record's predicted families are its report
codes cut at the first dot, so new codes and families are picked up as they appear. Counted apart,
not compared with labels: set-level `set.*` findings; for preference pairs, codes found only on
the rejected side (`side_codes`) and the roll-ups `pref.chosen_failed` / `pref.rejected_failed`;
budget codes (`length.prompt_over_budget`, `length.prompt_truncated`,
`length.completion_over_budget`), which measure a record against --max-length through the
tokenizer (the `length` family is labelled for completions cut off mid-sentence or mid-code).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

from synthgate.validators.codes import FAMILIES
from synthgate.validators.secrets import mask

# Roll-ups of the side verdicts, not judgements of their own.
DERIVED_CODES = frozenset({"pref.chosen_failed", "pref.rejected_failed"})
# Measurements against the run's --max-length through a tokenizer: true by construction for the
# chosen budget and not something a reader can label by eye, so they are counted apart.
BUDGET_CODES = frozenset(
    {"length.prompt_over_budget", "length.prompt_truncated", "length.completion_over_budget"}
)
SET_FAMILY = "set"
# Excerpts mask anything that could be a credential or personal data, erring wide: emails,
# phone-shaped numbers and any 8+ character token mixing letters and digits (keys, passwords).
_SECRETISH = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\+?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"
    r"|(?<!\S)(?=\S*\d)(?=\S*[A-Za-z])\S{8,}"
)


def predicted_codes(line: dict[str, Any]) -> list[str]:
    codes = [c for c in line["codes"] if c not in DERIVED_CODES]
    sides = line.get("side_codes")
    if sides:
        rejected_only = set(sides.get("rejected", [])) - set(sides.get("chosen", []))
        codes = [c for c in codes if c not in rejected_only]
    return codes


def family(code: str) -> str:
    return code.split(".")[0]


def excerpt(record: dict[str, Any], width: int = 100) -> str:
    text = re.sub(r"\s+", " ", common.completion_text(record)).strip()
    text = _SECRETISH.sub(lambda m: mask(m.group(0)), text)
    return json.dumps(text[:width] + ("…" if len(text) > width else ""), ensure_ascii=False)


def evaluate(name: str, data_dir: Path = common.DATA_DIR) -> dict[str, Any]:
    src = common.load_source(name)
    labels = common.read_labels(src)
    lines = src.data_path(data_dir).read_text(encoding="utf-8").splitlines()
    records = [json.loads(x) for x in lines if x.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report, summary = common.run_audit(records, src.audit_args, Path(tmp))
        seconds = time.perf_counter() - t0
    fams: dict[str, dict[str, Any]] = {}

    def row(f: str) -> dict[str, Any]:
        return fams.setdefault(f, {"positives": 0, "tp": 0, "fp": 0, "fn": 0, "errors": []})

    budget: dict[str, int] = {}
    for label, line, rec in zip(labels, report, records, strict=True):
        codes = [c for c in predicted_codes(line) if family(c) != SET_FAMILY]
        for c in codes:
            if c in BUDGET_CODES:
                budget[c] = budget.get(c, 0) + 1
        codes = [c for c in codes if c not in BUDGET_CODES]
        pred = {family(c) for c in codes}
        gold = set(label["positives"])
        for f in pred | gold:
            r = row(f)
            kind = "tp" if f in pred and f in gold else "fp" if f in pred else "fn"
            r[kind] += 1
            r["positives"] += f in gold
            if kind != "tp":
                r["errors"].append(
                    {
                        "kind": kind.upper(),
                        "index": label["index"],
                        "codes": [c for c in codes if family(c) == f] or codes,
                        "label": label["reasons"].get(f) or label.get("note") or "",
                        "excerpt": excerpt(rec),
                    }
                )
    set_findings = [
        {"code": s["code"], "message": s.get("message", ""), "count": s.get("count")}
        for s in summary.get("set_findings", [])
    ]
    return {
        "name": name,
        "domain": src.domain,
        "records": len(records),
        "audit_seconds": round(seconds, 1),
        "families": fams,
        "set_findings": set_findings,
        "budget_findings": budget,
    }


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def family_order(results: list[dict[str, Any]]) -> list[str]:
    seen = [f for f in FAMILIES if f != SET_FAMILY]
    extra = sorted({f for r in results for f in r["families"]} - set(seen))
    return seen + extra


def row_line(name: str, fam: str, r: dict[str, Any]) -> str:
    counts = f"{r['positives']} | {r['tp']} | {r['fp']} | {r['fn']}"
    return f"| {name} | {fam} | {counts} | {fmt(r['precision'])} | {fmt(r['recall'])} |"


def table(results: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    head = "| set | family | positives | TP | FP | FN | precision | recall |"
    rows, totals = [head, "|---|---|---:|---:|---:|---:|---:|---:|"], {}
    order = family_order(results)
    for res in results:
        for f in order:
            r = res["families"].get(f)
            if not r:
                continue
            p, rc = ratio(r["tp"], r["tp"] + r["fp"]), ratio(r["tp"], r["tp"] + r["fn"])
            r["precision"], r["recall"] = p, rc
            rows.append(row_line(res["name"], f, r))
            t = totals.setdefault(f, {"positives": 0, "tp": 0, "fp": 0, "fn": 0})
            for k in t:
                t[k] += r[k]
    for f in order:
        if f in totals:
            t = totals[f]
            t["precision"], t["recall"] = ratio(t["tp"], t["tp"] + t["fp"]), ratio(t["tp"], t["tp"] + t["fn"])
            rows.append(row_line("**all**", f, t))
    tp, fp, fn = (sum(t[k] for t in totals.values()) for k in ("tp", "fp", "fn"))
    pos = sum(t["positives"] for t in totals.values())
    overall = {
        "positives": pos,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
    }
    rows.append(row_line("**all**", "**every family**", overall))
    return "\n".join(rows), {"families": totals, "overall": overall}


def missing_data_help(names: list[str]) -> str:
    lines = [
        "The benchmark's records are not prepared (data/ is not committed: fetched data stays out of git)."
    ]
    for name in names:
        src = common.load_source(name)
        lines.append(f"  {name}: {src.path} of github.com/{src.repo} at commit {src.commit}")
    lines.append(
        "Get each repository (git clone + checkout of that commit, or the fetch tool's mirror under\n"
        "/work/.mirror), then: PYTHONPATH=$PWD .venv/bin/python benchmarks/detection/prepare.py\n"
        "  (all sets, from the mirror; --mirror DIR for another one) or prepare.py NAME --from FILE"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="sets to run (default: all)")
    ap.add_argument("--show-errors", action="store_true", help="list every false positive and false negative")
    ap.add_argument("--data", type=Path, default=common.DATA_DIR, help="where prepare.py wrote the records")
    ap.add_argument("--json", dest="json_out", type=Path, help="write the numbers to this file")
    args = ap.parse_args()
    names = args.names or common.set_names()
    unknown = sorted(set(names) - set(common.set_names()))
    if unknown:
        ap.error(f"unknown set(s) {unknown}; known: {common.set_names()}")
    missing = []
    for name in names:
        src = common.load_source(name)
        n_labels = len(common.read_labels(src))
        if (
            not src.data_path(args.data).exists()
            or len(src.data_path(args.data).read_text(encoding="utf-8").splitlines()) != n_labels
        ):
            missing.append(name)
    if missing:
        print(missing_data_help(missing), file=sys.stderr)
        sys.exit(2)
    t0 = time.perf_counter()
    # One process, one set after another: the audits share the loaded tokenizer.
    results = [evaluate(name, args.data) for name in names]
    text, totals = table(results)
    print(text)
    for res in results:
        if res["set_findings"]:
            found = "; ".join(f"{s['code']} ({s['message']})" for s in res["set_findings"])
            print(f"\nset-level findings, {res['name']}: {found}")
    for res in results:
        if res["budget_findings"]:
            found = ", ".join(f"{c} x{n}" for c, n in sorted(res["budget_findings"].items()))
            print(f"budget findings (--max-length 2048, not labelled), {res['name']}: {found}")
    if args.show_errors:
        for res in results:
            for f in family_order(results):
                for e in res["families"].get(f, {}).get("errors", []):
                    print(
                        f"\n{e['kind']} {res['name']} #{e['index']} {f}: codes={e['codes']}\n"
                        f"  label: {e['label'] or '(no positive in this family)'}\n  text: {e['excerpt']}"
                    )
    n_records = sum(r["records"] for r in results)
    # CPU time says more than wall time on a shared machine.
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    wall, cpu_s = time.perf_counter() - t0, cpu.ru_utime + cpu.ru_stime
    print(f"\n{n_records} records in {len(results)} sets, {wall:.1f} s wall, {cpu_s:.1f} s CPU")
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"sets": results, "totals": totals}, indent=1) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
