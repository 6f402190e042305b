"""Shared pieces of the detection benchmark: set descriptions, record hashing, adapters, paths.

A set lives in `sets/<name>/`: `source.json` (where the full file is: repo, commit, path, license;
how synthgate reads it: `audit_args`; how records are adapted: `adapter`; how the sample was drawn)
and `labels.jsonl` (one hand label per sampled record, by index into the source file). The source
records themselves are never committed (workplace rule: data brought by `fetch` stays out of git);
`prepare.py` extracts the sampled ones into `data/<name>.jsonl`, checking each record's sha256.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SETS_DIR = HERE / "sets"
DATA_DIR = HERE / "data"
DEFAULT_MIRROR = Path("/work/.mirror")


@dataclass(frozen=True)
class SetSource:
    """One benchmark set, as described by its `source.json`."""

    name: str
    repo: str
    commit: str
    path: str
    license: str
    domain: str
    file_format: str  # "json" (an array) or "jsonl"
    adapter: str  # how a source record becomes a record synthgate reads (see `adapt`)
    audit_args: tuple[str, ...]
    raw: dict[str, Any]

    @property
    def labels_path(self) -> Path:
        return SETS_DIR / self.name / "labels.jsonl"

    def data_path(self, data_dir: Path = DATA_DIR) -> Path:
        return data_dir / f"{self.name}.jsonl"

    def mirror_git_dir(self, mirror: Path) -> Path:
        # The `fetch` tool mirrors github:owner/name as <mirror>/owner+name/repo (a bare git dir).
        return mirror / self.repo.replace("/", "+") / "repo"


def load_source(name: str) -> SetSource:
    raw = json.loads((SETS_DIR / name / "source.json").read_text(encoding="utf-8"))
    return SetSource(
        name=name,
        repo=raw["repo"],
        commit=raw["commit"],
        path=raw["path"],
        license=raw["license"],
        domain=raw["domain"],
        file_format=raw["file_format"],
        adapter=raw.get("adapter", "none"),
        audit_args=tuple(raw.get("audit_args", [])),
        raw=raw,
    )


def set_names() -> list[str]:
    """Sets that have labels (a set being labelled has only source.json and sample.json)."""
    return sorted(p.parent.name for p in SETS_DIR.glob("*/labels.jsonl"))


def record_sha256(record: Any) -> str:
    """sha256 of a record's canonical JSON (sorted keys, UTF-8), the identity labels are pinned to."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_records(text: str, file_format: str, origin: str) -> list[Any]:
    if file_format == "json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{origin}: expected a JSON array of records")
        return data
    if file_format == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    raise ValueError(f"{origin}: unknown file_format {file_format!r} in source.json")


def read_source_records(
    src: SetSource, mirror: Path = DEFAULT_MIRROR, local: Path | None = None
) -> list[Any]:
    """Every record of the full source file, from a local copy or the fetched mirror at the pinned commit."""
    if local is not None:
        return parse_records(local.read_text(encoding="utf-8"), src.file_format, str(local))
    git_dir = src.mirror_git_dir(mirror)
    if not git_dir.is_dir():
        raise FileNotFoundError(f"no mirror of {src.repo} at {git_dir}")
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{src.commit}:{src.path}"],
        capture_output=True,
        check=False,
    )
    if out.returncode != 0:
        raise FileNotFoundError(
            f"{src.repo}@{src.commit[:10]}:{src.path} not readable from {git_dir}: "
            f"{out.stderr.decode(errors='replace').strip()}"
        )
    return parse_records(out.stdout.decode("utf-8"), src.file_format, f"{src.repo}:{src.path}")


def adapt(record: Any, adapter: str) -> dict[str, Any]:
    """The record in a shape `synthgate audit` reads, with its text untouched.

    Only field names and nesting change; every string the validators judge is kept byte for byte.
    """
    if adapter == "none":
        return record
    if adapter == "alpaca_response":
        # GPTeacher spells Alpaca's `output` as `response`.
        return {"instruction": record["instruction"], "input": record["input"], "output": record["response"]}
    if adapter == "question_response":
        return {"prompt": record["question"], "completion": record["response"]}
    if adapter == "aqua_rationale":
        # AQuA-RAT: the question and its lettered options are what a model is asked (options one
        # a line after the question, each string as written); the rationale is the answer.
        prompt = "\n".join([record["question"], *record["options"]])
        return {"prompt": prompt, "completion": record["rationale"]}
    if adapter == "alpaca_eval_pair":
        # AlpacaEval annotations: two answers to one instruction and the judge's preference (1 or
        # 2; a tie, 0, keeps the reference answer, output_1, as chosen).
        win, lose = ("output_2", "output_1") if record["preference"] == 2 else ("output_1", "output_2")
        return {
            "prompt": [{"role": "user", "content": record["instruction"]}],
            "chosen": [{"role": "assistant", "content": record[win]}],
            "rejected": [{"role": "assistant", "content": record[lose]}],
        }
    if adapter == "sharegpt_pair":
        # LLaMA-Factory's ranking format: the shared turns in `conversations`, one turn each in
        # `chosen`/`rejected`; TRL's explicit-prompt preference layout is what synthgate reads.
        turns = [_turn(t) for t in record["conversations"]]
        return {
            "prompt": turns,
            "chosen": [_turn(record["chosen"])],
            "rejected": [_turn(record["rejected"])],
        }
    raise ValueError(f"unknown adapter {adapter!r}")


_SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def _turn(t: dict[str, str]) -> dict[str, str]:
    return {"role": _SHAREGPT_ROLES[t["from"]], "content": t["value"]}


def read_labels(src: SetSource) -> list[dict[str, Any]]:
    lines = src.labels_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def run_audit(records: list[dict[str, Any]], audit_args: tuple[str, ...], workdir: Path) -> tuple[list, dict]:
    """Audit `records` with the real `synthgate audit` command (current chain defaults, a fresh DuckDB).

    The command runs in this process through Typer's runner, so the embedded tokenizer (most of
    a run's start-up cost) is loaded once for all sets. Returns the report lines (one per record,
    in order) and the summary.
    """
    from typer.testing import CliRunner

    from synthgate.cli.app import app

    data = workdir / "records.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    report, summary = workdir / "report.jsonl", workdir / "summary.json"
    args = ["audit", str(data), *audit_args, "--db", str(workdir / "bench.duckdb"), "--report", str(report)]
    args += ["--summary", str(summary), "--fail-on", "none"]
    out = CliRunner().invoke(app, args)
    if out.exit_code not in (0, 1) or not report.exists():
        detail = out.output[-3000:] or repr(out.exception)
        raise RuntimeError(f"synthgate audit failed (exit {out.exit_code}):\n{detail}")
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines() if x.strip()]
    if len(lines) != len(records):
        raise RuntimeError(f"report has {len(lines)} lines for {len(records)} records")
    return lines, json.loads(summary.read_text(encoding="utf-8"))


def completion_text(record: dict[str, Any]) -> str:
    """The text synthgate trains on in an adapted record (the chosen side of a pair)."""
    for key in ("output", "completion"):
        if isinstance(record.get(key), str):
            return record[key]
    turns = record.get("chosen") or record.get("messages") or record.get("conversations") or []
    for t in reversed(turns):
        if t.get("role", t.get("from")) in ("assistant", "gpt", "function_call"):
            return t.get("content", t.get("value", "")) or ""
    return ""


def prompt_text(record: dict[str, Any]) -> str:
    """Everything before the completion, flattened for reading."""
    if "instruction" in record:
        return "\n".join(x for x in (record["instruction"], record.get("input", "")) if x)
    if isinstance(record.get("prompt"), str):
        return record["prompt"]
    turns = record.get("prompt") or record.get("messages") or record.get("conversations") or []
    if "chosen" not in record:
        turns = turns[:-1]
    return "\n".join(
        f"[{t.get('role', t.get('from'))}] {t.get('content', t.get('value', ''))}" for t in turns
    )
