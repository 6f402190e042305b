"""Draw the labelling sample of one set (run once per set; the draw is committed as sample.json).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/detection/sample.py NAME

Sample = `uniform` records drawn uniformly with `sample_seed` from the whole file, plus up to
`enriched_max` enriched candidates outside it: records today's audit flags (any per-record code)
and records an independent grep finds (AI boilerplate wording, unclosed ``` fences, a completion
ending mid-sentence, a line repeated 3+ times, key- or email-shaped strings). Candidates are taken
round-robin over their reasons (seeded), so one frequent reason does not fill the quota. When a
small file runs out of candidates, further seeded uniform draws top the sample up to `min_total`
(default 150).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from pathlib import Path

import common

GREP = {
    "grep.as_an_ai": re.compile(
        r"\bas an ai\b|\bas a (?:text-based |virtual )?(?:ai|chatbot|language model)", re.I
    ),
    "grep.language_model": re.compile(r"language model", re.I),
    "grep.secret_or_email": re.compile(
        r"[\w.+-]+@[\w-]+\.[\w.]+|\bsk-[A-Za-z0-9]{16,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}"
    ),
}


def grep_reasons(record: dict) -> list[str]:
    text, completion = json.dumps(record, ensure_ascii=False), common.completion_text(record)
    why = [k for k, rx in GREP.items() if rx.search(text)]
    if completion.count("```") % 2 == 1:
        why.append("grep.unclosed_fence")
    tail = completion.rstrip()
    if tail and re.search(r"[A-Za-z,;:(\-]$", tail) and not tail.endswith("```"):
        why.append("grep.ends_mid_sentence")
    lines = [ln.strip() for ln in completion.splitlines() if len(ln.strip()) >= 20]
    if any(lines.count(ln) >= 3 for ln in set(lines)):
        why.append("grep.repeated_line")
    return why


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("--mirror", type=Path, default=common.DEFAULT_MIRROR)
    args = ap.parse_args()
    src = common.load_source(args.name)
    seed, n_uniform = src.raw["sample_seed"], src.raw["sample_uniform"]
    n_enriched = src.raw["enriched_max"]
    records = common.read_source_records(src, args.mirror)
    adapted = [common.adapt(r, src.adapter) for r in records]
    rng = random.Random(seed)
    uniform = sorted(rng.sample(range(len(records)), n_uniform))
    with tempfile.TemporaryDirectory() as tmp:
        report, _ = common.run_audit(adapted, src.audit_args, Path(tmp))
    groups: dict[str, list[int]] = {}
    chosen_set = set(uniform)
    for i, (rec, line) in enumerate(zip(adapted, report, strict=True)):
        if i in chosen_set:
            continue
        reasons = {c for c in line["codes"] if c not in ("pref.rejected_failed", "pref.chosen_failed")}
        for why in sorted(reasons) + grep_reasons(rec):
            groups.setdefault(why, []).append(i)
    for members in groups.values():
        rng.shuffle(members)
    enriched: dict[int, str] = {}
    order = sorted(groups)
    while len(enriched) < n_enriched and any(groups.values()):
        for why in order:
            while groups[why] and groups[why][0] in enriched:
                groups[why].pop(0)
            if groups[why] and len(enriched) < n_enriched:
                enriched[groups[why].pop(0)] = why
    # A small file can run out of enriched candidates; top the sample up with further seeded
    # uniform draws so every set has at least `min_total` labelled records.
    topup = []
    rest = [i for i in range(len(records)) if i not in chosen_set and i not in enriched]
    while len(uniform) + len(enriched) + len(topup) < src.raw.get("min_total", 150) and rest:
        topup.append(rest.pop(rng.randrange(len(rest))))
    out = {
        "records_in_file": len(records),
        "uniform": uniform,
        "enriched": [{"index": i, "why": why} for i, why in sorted(enriched.items())],
        "uniform_topup": sorted(topup),
    }
    path = common.SETS_DIR / args.name / "sample.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{args.name}: {len(uniform)} uniform + {len(enriched)} enriched + {len(topup)} top-up -> {path}")


if __name__ == "__main__":
    main()
