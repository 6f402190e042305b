"""Extract each set's labelled records from its public source into `data/<name>.jsonl` (gitignored).

    # once: bring the repositories (the fetch tool, or git clone + checkout of the pinned commit)
    PYTHONPATH=$PWD .venv/bin/python benchmarks/detection/prepare.py  # all, from /work/.mirror
    PYTHONPATH=$PWD .venv/bin/python benchmarks/detection/prepare.py NAME --from path/to/file.json

Each record's sha256 (canonical JSON, sorted keys) must match its label, so labels can never
silently drift onto other records. Records are written in label order, adapted to a shape
`synthgate audit` reads (`adapter` in source.json; only field names and nesting change).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import common


def prepare(name: str, mirror: Path, local: Path | None, data_dir: Path = common.DATA_DIR) -> Path:
    src = common.load_source(name)
    records = common.read_source_records(src, mirror, local)
    labels = common.read_labels(src)
    out = []
    for row in labels:
        i = row["index"]
        if i >= len(records):
            raise ValueError(
                f"{name}: label index {i} is past the end of the source ({len(records)} records)"
            )
        got = common.record_sha256(records[i])
        if got != row["sha256"]:
            raise ValueError(
                f"{name}: record {i} has sha256 {got[:12]}…, its label expects {row['sha256'][:12]}…: "
                f"not the pinned file ({src.repo}@{src.commit[:10]}:{src.path})"
            )
        out.append(json.dumps(common.adapt(records[i], src.adapter), ensure_ascii=False))
    data_dir.mkdir(parents=True, exist_ok=True)
    path = src.data_path(data_dir)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="sets to prepare (default: all)")
    ap.add_argument("--mirror", type=Path, default=common.DEFAULT_MIRROR, help="where fetched repos live")
    ap.add_argument("--data", type=Path, default=common.DATA_DIR, help="where to write <name>.jsonl")
    ap.add_argument("--from", dest="local", type=Path, help="a local copy of the source file (one set only)")
    args = ap.parse_args()
    names = args.names or common.set_names()
    if args.local and len(names) != 1:
        ap.error("--from needs exactly one set name")
    failed = False
    for name in names:
        try:
            path = prepare(name, args.mirror, args.local, args.data)
            print(f"{name}: {len(common.read_labels(common.load_source(name)))} records -> {path}")
        except (FileNotFoundError, ValueError) as e:
            failed = True
            src = common.load_source(name)
            print(
                f"{e}\n  get it: git clone https://github.com/{src.repo} and check out {src.commit}, "
                f"then pass --from CLONE/{src.path} (or --mirror DIR holding a fetched mirror)",
                file=sys.stderr,
            )
    sys.exit(2 if failed else 0)


if __name__ == "__main__":
    main()
