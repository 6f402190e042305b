"""Print a set's sampled records for hand labelling (no synthgate verdicts shown, so labels stay blind).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/detection/view.py NAME [--start 0 --count 50]

Each record shows its index, why it was sampled, independent hints (grep reasons, the closest
earlier sampled record by difflib ratio), the prompt (first 500 chars) and the completion (whole
up to 2,000 chars, else its first 1,200 and last 700).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from pathlib import Path

import common
import sample


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--head", type=int, default=1200, help="chars shown from the start of a long completion")
    ap.add_argument("--tail", type=int, default=700, help="chars shown from its end")
    ap.add_argument(
        "--full",
        action="store_true",
        help="print whole completions (long sets hide lines in the elided middle)",
    )
    ap.add_argument("--mirror", type=Path, default=common.DEFAULT_MIRROR)
    args = ap.parse_args()
    src = common.load_source(args.name)
    drawn = json.loads((common.SETS_DIR / args.name / "sample.json").read_text())
    why = (
        {i: "uniform" for i in drawn["uniform"]}
        | {e["index"]: e["why"] for e in drawn["enriched"]}
        | {i: "uniform_topup" for i in drawn.get("uniform_topup", [])}
    )
    records = common.read_source_records(src, args.mirror)
    order = sorted(why)
    adapted = {i: common.adapt(records[i], src.adapter) for i in order}
    for pos, i in enumerate(order):
        if not args.start <= pos < args.start + args.count:
            continue
        rec = adapted[i]
        p, c = common.prompt_text(rec), common.completion_text(rec)
        best = (0.0, None, "")
        for j in order[:pos]:
            for kind, a, b in (
                ("prompt", p, common.prompt_text(adapted[j])),
                ("completion", c, common.completion_text(adapted[j])),
            ):
                if abs(len(a) - len(b)) > 0.3 * max(len(a), len(b), 1):
                    continue
                r = difflib.SequenceMatcher(None, norm(a), norm(b)).ratio()
                if r > best[0]:
                    best = (r, j, kind)
        hints = sample.grep_reasons(rec)
        if best[0] >= 0.8:
            hints.append(f"similar {best[2]} to #{best[1]} ({best[0]:.2f})")
        # An enrichment reason that is an audit code would show synthgate's verdict: hide it.
        shown_why = why[i] if why[i].startswith(("uniform", "grep.")) else "enriched"
        print(f"==== [{pos}] #{i} ({shown_why}) hints={hints}")
        print("PROMPT:", p[:500] + (" [...]" if len(p) > 500 else ""))
        cut = args.head + args.tail + 100
        shown = (
            c
            if args.full or len(c) <= cut
            else c[: args.head] + f"\n[... {len(c) - cut + 100} chars elided ...]\n" + c[-args.tail :]
        )
        # A short completion is shown as a Python literal (so empty or whitespace-only text is visible);
        # the label says so, because its quotes and \n escapes are the viewer's, not the data's.
        if len(c) < 80:
            print("COMPLETION (python repr, quotes not in the data):", repr(shown))
        else:
            print("COMPLETION:", shown)
        if "rejected" in rec:
            rj = rec["rejected"][-1]["content"]
            print("REJECTED:", rj[:150] + (" [...] " + rj[-100:] if len(rj) > 250 else rj[150:]))
            sim = difflib.SequenceMatcher(None, norm(rj), norm(c)).ratio()
            print(f"  (chosen==rejected: {norm(rj) == norm(c)}, ratio {sim:.2f})")
        print()


if __name__ == "__main__":
    main()
