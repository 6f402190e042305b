"""One self-contained HTML report of an audited dataset (or of a version, through its source dataset).

Rendering path: jinja2 (autoescaped) + inline CSS + inline SVG whose geometry is computed here from
aggregates the store computes in SQL, and a few lines of plain JS to filter and fold. No chart
library, no asset, no URL: the file opens offline, and its size depends on the number of codes and
examples shown, never on the number of records (see benchmarks/report_size.py).

Every record excerpt goes through `mask_secrets` (see report.excerpts); jinja escapes all text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from synthgate.errors import InputError
from synthgate.report.excerpts import excerpt, span_text
from synthgate.schemas.chain_config import ChainConfig
from synthgate.store import CodeCount, DatasetInfo, Store, VersionInfo
from synthgate.store.stats import TOKEN_PARTS, RefHits
from synthgate.store.verdicts import STATUSES
from synthgate.validators.secrets import mask_secrets, mask_strings

HISTOGRAM_BINS = 30
EXAMPLES_PER_CODE = 5
HEATMAP_PERSONAS = 15
DEFAULT_MAX_LENGTH = ChainConfig().length.max_length
EFFECT_COLORS = {"block": "#c0392b", "warn": "#d68910", "fixed": "#2e86c1"}

# Chart geometry (SVG user units).
_BAR_H, _BAR_GAP, _LABEL_W, _CHART_W = 16, 4, 250, 420
_HIST_W, _HIST_H, _HIST_PAD = 420, 140, 24

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("synthgate.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# The page's only script, allowed by hash in its Content-Security-Policy: even a record's markup that
# escaped escaping could not run (inline handlers and other scripts are blocked).
_SCRIPT = _env.loader.get_source(_env, "report.js")[0]  # type: ignore[union-attr]
_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


@dataclass(frozen=True)
class Subject:
    """What the report is about: a dataset, or a version (whose records are its source dataset's)."""

    dataset: DatasetInfo
    version: VersionInfo | None = None


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str = ""
    title: str = ""
    href: str = ""
    color: str = ""
    value: int = 0
    effect: str = ""


@dataclass
class Histogram:
    part: str
    bars: list[Bar]
    width: int
    height: int
    max_length_x: float
    max_length: int | None
    bin_tokens: int
    upper: int
    largest: int
    ticks: list[tuple[float, str]] = field(default_factory=list)


def effect_of(c: CodeCount) -> str:
    """block / warn / fixed: what a verdict does to its record."""
    if c.status == "fixed":
        return "fixed"
    return "block" if c.severity == "block" else "warn"


def resolve(store: Store, report_id: str) -> Subject:
    """The dataset or version `report_id` names; a generation run (or a version of one) reads as the
    dataset of its kept samples, written when the run finished."""
    if report_id.startswith("ds_"):
        return Subject(store.datasets.get(report_id))
    if report_id.startswith("run_"):
        return Subject(store.datasets.get(_run_dataset(store, report_id)))
    version = store.versions.get(report_id)
    source = version.source_id
    dataset_id = _run_dataset(store, source) if source.startswith("run_") else source
    return Subject(store.datasets.get(dataset_id), version)


def _run_dataset(store: Store, run_id: str) -> str:
    store.runs.get(run_id)  # an unknown id: NotFound, naming how to list runs
    dataset_id = store.datasets.for_run(run_id)
    if dataset_id is None:
        raise InputError(
            f"generation run {run_id} has not finished: its kept samples become a dataset when it does",
            hint="Resume it with the same config (synthgate generate CONFIG), then report on it.",
        )
    return dataset_id


def build_report(store: Store, report_id: str, compare: str | None = None) -> str:
    """The report of `report_id` (a dataset or version id) as one HTML document."""
    subject = resolve(store, report_id)
    other = resolve(store, compare) if compare is not None else None
    context = _context(store, report_id, subject)
    if other is not None and compare is not None:
        # The other set is the baseline: deltas read as "what changed from --compare to this one".
        context["compare"] = _compare(store, compare, other, report_id, subject)
    return _env.get_template("report.html.jinja").render(**context, script=_SCRIPT, script_hash=_SCRIPT_HASH)


def write_report(store: Store, report_id: str, path: str | Path, compare: str | None = None) -> Path:
    """Write the report to `path` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(store, report_id, compare), encoding="utf-8")
    return path


# -- gathering ---------------------------------------------------------------------------------------


def _context(store: Store, report_id: str, subject: Subject) -> dict[str, Any]:
    info = subject.dataset
    ds = info.id
    summary = info.summary or {}
    length = info.chain_config.get("length") or {}
    max_length = length.get("max_length") or DEFAULT_MAX_LENGTH
    counts = store.stats.code_counts(ds)
    tokens = store.stats.tokens(ds, max_length)
    code_records = store.code_counts(ds)
    return {
        "report_id": report_id,
        "info": info,
        "version": subject.version,
        "records": summary.get("records", store.samples.count(ds)),
        "status_counts": store.status_counts(ds),
        "tokenizer": length.get("tokenizer") or "embedded Gemma 3 270M",
        "max_length": max_length,
        "chain_json": json.dumps(mask_strings(info.chain_config), indent=2, ensure_ascii=False),
        "command": reproduce_command(info),
        "gate": _gate(store, subject),
        "validators": _by_validator(counts),
        "code_chart": _code_chart(counts),
        "effect_colors": EFFECT_COLORS,
        "tokens": tokens,
        "histograms": _histograms(store, ds, tokens.max_tokens, max_length) if tokens.counted else [],
        "truncated": code_records.get("length.prompt_truncated", 0),
        "examples": _examples(store, ds, counts),
        "findings": [_finding(f) for f in store.datasets.findings(ds)],
        "diversity": mask_strings(summary.get("diversity")),
        "preference": mask_strings(summary.get("preference")),
        "heatmap": _heatmap(store.stats.persona_task(ds)),
        "critic": _critic_chart(store.stats.critic_scores(ds)),
        "contamination": _contamination(store.stats.ref_hits(ds), summary.get("eval_sets") or {}),
        "read_as": summary.get("read_as") or {},
        "compare": None,
    }


def _gate(store: Store, subject: Subject) -> dict[str, Any]:
    from synthgate.training import gate

    if subject.version is not None:
        result = gate.check_gate(store, subject.version.id)
        scope = f"version {subject.version.id} under the default policy"
    else:
        result = gate.preview_gate(store, subject.dataset.id)
        scope = (
            "the version `synthgate version create NAME --source "
            f"{subject.dataset.id}` would make (include pass,fixed), under the default policy"
        )
    return {
        "passed": result.passed,
        "scope": scope,
        "checks": [
            {"name": c.name, "passed": c.passed, "message": mask_secrets(c.message)} for c in result.checks
        ],
    }


def reproduce_command(info: DatasetInfo) -> str:
    """The `synthgate audit` command that reproduces the dataset from its stored options.

    The chain config is named as a file when it differs from the defaults the flags give.
    """
    if info.run_id is not None:
        # A generated set is reproduced by its run's config (stored in the run's params).
        run = info.run_id
        return f"synthgate generate CONFIG.yaml  # the config of {run}: synthgate runs show {run}"
    o = info.options
    args = ["synthgate", "audit", info.source_path or "FILE"]
    if o.get("fmt") and o["fmt"] != "auto":
        args += ["--format", o["fmt"]]
    if o.get("instruction_as_system"):
        args.append("--instruction-as-system")
    if o.get("system_prompt"):
        text = mask_secrets(o["system_prompt"])
        args += ["--system-prompt", text if len(text) <= 80 and "\n" not in text else "@system_prompt.txt"]
    if o.get("allow_extra_fields") is False:
        args.append("--strict-fields")
    for name, value in (o.get("fields") or {}).items():
        args += [f"--{name}-field", value]
    for key in ("task_field", "eval_field", "reasoning_field", "against"):
        if o.get(key):
            args += [f"--{key.replace('_', '-')}", str(o[key])]
    for path in o.get("eval_sets") or ():
        args += ["--eval-set", path]
    if o.get("skip_invalid"):
        args.append("--skip-invalid")
    chain = info.chain_config
    length = chain.get("length") or {}
    flags: dict[str, Any] = {"length": {}}
    if length.get("tokenizer"):
        args += ["--tokenizer", length["tokenizer"]]
        flags["length"]["tokenizer"] = length["tokenizer"]
    if length.get("max_length") and length["max_length"] != DEFAULT_MAX_LENGTH:
        args += ["--max-length", str(length["max_length"])]
        flags["length"]["max_length"] = length["max_length"]
    mode = (chain.get("thinking") or {}).get("mode")
    if mode and mode != "strip":
        args += ["--thinking", mode]
        flags["thinking"] = {"mode": mode}
    if chain and chain != _default_chain(flags):
        args += ["--config", "chain.yaml"]
    return " ".join(shlex.quote(str(a)) for a in args)


def _default_chain(flags: dict[str, Any]) -> dict[str, Any]:
    data = ChainConfig().model_dump(mode="json")
    for section, values in flags.items():
        data[section].update(values)
    return data


def _by_validator(counts: Iterable[CodeCount]) -> list[dict[str, Any]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in counts:
        out.setdefault(c.validator, []).append({"code": c.code, "effect": effect_of(c), "records": c.records})
    return [
        {"name": name, "codes": codes, "total": sum(x["records"] for x in codes)}
        for name, codes in out.items()
    ]


def _code_chart(counts: list[CodeCount]) -> dict[str, Any]:
    """Horizontal bars, one per (code, effect), grouped by family; each links to its examples."""
    merged: dict[tuple[str, str], int] = {}
    for c in counts:
        key = (c.code, effect_of(c))
        merged[key] = merged.get(key, 0) + c.records
    families: dict[str, list[tuple[str, str, int]]] = {}
    for (code, effect), n in sorted(merged.items(), key=lambda kv: (kv[0][0].split(".")[0], -kv[1], kv[0])):
        families.setdefault(code.split(".")[0], []).append((code, effect, n))
    top = max(merged.values(), default=1)
    groups, y = [], 0.0
    for family, items in families.items():
        y += _BAR_H  # the family's heading row
        heading_y = y - 4
        bars = []
        for code, effect, n in items:
            w = max(1.0, (_CHART_W - _LABEL_W - 50) * n / top)
            bars.append(
                Bar(
                    x=_LABEL_W,
                    y=y,
                    w=round(w, 1),
                    h=_BAR_H,
                    label=code,
                    title=f"{code} ({effect}): {n} records",
                    href=f"#ex-{code}",
                    color=EFFECT_COLORS[effect],
                    value=n,
                    effect=effect,
                )
            )
            y += _BAR_H + _BAR_GAP
        groups.append({"family": family, "heading_y": heading_y, "bars": bars})
    return {"groups": groups, "width": _CHART_W, "height": int(y + _BAR_GAP), "label_w": _LABEL_W}


def _histograms(store: Store, dataset_id: str, largest: dict[str, int], max_length: int) -> list[Histogram]:
    out = []
    for part in TOKEN_PARTS:
        # The x axis reaches past max_length so the line and what lies beyond it both show.
        upper = max(largest[part], max_length) + 1
        width = max(1, -(-upper // HISTOGRAM_BINS))
        counts = store.stats.token_histogram(dataset_id, part, HISTOGRAM_BINS, width)
        span = width * HISTOGRAM_BINS
        plot_w, plot_h = _HIST_W - 2 * _HIST_PAD, _HIST_H - 2 * _HIST_PAD
        top = max(counts) or 1
        bars = []
        for i, n in enumerate(counts):
            h = plot_h * n / top
            lo, hi = i * width, (i + 1) * width - 1
            bars.append(
                Bar(
                    x=round(_HIST_PAD + plot_w * i / HISTOGRAM_BINS, 2),
                    y=round(_HIST_PAD + plot_h - h, 2),
                    w=round(plot_w / HISTOGRAM_BINS - 1, 2),
                    h=round(h, 2),
                    title=f"{lo}-{hi} tokens: {n} records",
                    value=n,
                )
            )
        ticks = [(_x_at(t, span), str(t)) for t in (0, span // 2, span)]
        out.append(
            Histogram(
                part=part,
                bars=bars,
                width=_HIST_W,
                height=_HIST_H,
                max_length_x=_x_at(max_length, span),
                max_length=max_length,
                bin_tokens=width,
                upper=span,
                largest=largest[part],
                ticks=ticks,
            )
        )
    return out


def _heatmap(rows: list[tuple[str, str, int]], max_personas: int = HEATMAP_PERSONAS) -> dict[str, Any] | None:
    """Persona x task type counts as a grid; personas beyond the most frequent fold into `(other)`."""
    if not rows:
        return None
    totals: dict[str, int] = {}
    for persona, _, n in rows:
        totals[persona] = totals.get(persona, 0) + n
    kept = sorted(totals, key=lambda p: (-totals[p], p))[:max_personas]
    cells: dict[tuple[str, str], int] = {}
    for persona, task, n in rows:
        key = (persona if persona in kept else "(other)", task)
        cells[key] = cells.get(key, 0) + n
    personas = kept + (["(other)"] if len(totals) > len(kept) else [])
    tasks = sorted({t for _, t in cells})
    top = max(cells.values())
    return {
        "personas": [mask_secrets(p) for p in personas],
        "tasks": [mask_secrets(t) for t in tasks],
        "rows": [
            [(cells.get((p, t), 0), round(0.08 + 0.92 * cells.get((p, t), 0) / top, 2)) for t in tasks]
            for p in personas
        ],
    }


def _critic_chart(buckets: list[tuple[float, int]]) -> dict[str, Any] | None:
    """Vertical bars: records per mean critic score (to the nearest half point)."""
    if not buckets:
        return None
    top = max(n for _, n in buckets)
    plot_h, step = _HIST_H - 2 * _HIST_PAD, 28
    bars = []
    for i, (score, n) in enumerate(buckets):
        h = plot_h * n / top
        bars.append(
            Bar(
                x=_HIST_PAD + i * step,
                y=round(_HIST_PAD + plot_h - h, 2),
                w=step - 4,
                h=round(h, 2),
                label=f"{score:g}",
                title=f"mean critic score {score:g}: {n} records",
                value=n,
            )
        )
    return {"bars": bars, "width": 2 * _HIST_PAD + step * len(buckets), "height": _HIST_H}


def _x_at(tokens: int, span: int) -> float:
    return round(_HIST_PAD + (_HIST_W - 2 * _HIST_PAD) * tokens / span, 2)


def _examples(store: Store, dataset_id: str, counts: list[CodeCount]) -> list[dict[str, Any]]:
    """Per code (blocking first): up to EXAMPLES_PER_CODE excerpts, span highlighted, masked."""
    order = {"block": 0, "warn": 1, "fixed": 2}
    effects: dict[str, str] = {}
    for c in counts:  # a code seen with several effects is listed under its worst
        if c.code not in effects or order[effect_of(c)] < order[effects[c.code]]:
            effects[c.code] = effect_of(c)
    by_code: dict[str, list[dict[str, Any]]] = {}
    rows: dict[int, Any] = {}
    for index, v in store.stats.examples(dataset_id, EXAMPLES_PER_CODE):
        item: dict[str, Any] = {"index": index, "message": mask_secrets(v.message), "excerpt": None}
        if v.span is not None:
            if index not in rows:
                rows[index] = store.samples.get(dataset_id, index)
            row = rows[index]
            sample = (row.original or row.sample) if row is not None else None
            text = span_text(sample, v) if sample is not None else None
            if text is not None:
                item["excerpt"] = excerpt(text, v.span.start, v.span.end)
                item["field"] = v.span.field
        by_code.setdefault(v.code, []).append(item)
    codes = sorted(by_code, key=lambda c: (order[effects.get(c, "warn")], c))
    return [{"code": c, "effect": effects.get(c, "warn"), "examples": by_code[c]} for c in codes]


def _finding(f: Any) -> dict[str, Any]:
    details = mask_strings(f.details or {})
    return {
        "code": f.code,
        "severity": f.severity,
        "message": mask_secrets(f.message),
        "count": f.count,
        "share": f.share,
        "details": json.dumps(details, indent=2, ensure_ascii=False)[:4000] if details else "",
    }


def _contamination(hits: list[RefHits], eval_sets: dict[str, int]) -> dict[str, Any] | None:
    """One row per eval file (and validation split) the verdicts point into, plus the eval files that
    were checked and hit nothing: records hit per code, distinct eval items hit, of how many."""
    if not hits and not eval_sets:
        return None
    codes = sorted({c for h in hits for c in h.by_code})
    rows = []
    for h in hits:
        total = eval_sets.get(h.source)
        rows.append(
            {
                "file": mask_secrets(Path(h.source).name),
                "path": mask_secrets(h.source),
                "size": total,
                "records": h.records,
                "by_code": [h.by_code.get(c, 0) for c in codes],
                "hit": h.items,
                "share": h.items / total if total else None,
            }
        )
    seen = {h.source for h in hits}
    for source, total in eval_sets.items():
        if source not in seen:
            rows.append(
                {
                    "file": mask_secrets(Path(source).name),
                    "path": mask_secrets(source),
                    "size": total,
                    "records": 0,
                    "by_code": [0] * len(codes),
                    "hit": 0,
                    "share": 0.0,
                }
            )
    return {"codes": codes, "rows": rows}


def _compare(store: Store, a_id: str, a: Subject, b_id: str, b: Subject) -> dict[str, Any]:
    """Status and code deltas from `a` to `b`: members of a version (statuses, failing codes), records
    of a dataset (statuses, every code); and records added, removed, changed and unchanged."""
    (sa, ca, what_a), (sb, cb, what_b) = _counts(store, a), _counts(store, b)
    out: dict[str, Any] = {
        "a": a_id,
        "b": b_id,
        "what": what_a if what_a == what_b else f"{what_a} / {what_b}",
        "statuses": [(s, sa.get(s, 0), sb.get(s, 0), sb.get(s, 0) - sa.get(s, 0)) for s in STATUSES],
        "codes": [
            (c, ca.get(c, 0), cb.get(c, 0), cb.get(c, 0) - ca.get(c, 0)) for c in sorted(set(ca) | set(cb))
        ],
        "diff": store.stats.record_diff(_set_id(a), _set_id(b)),
    }
    return out


def _set_id(subject: Subject) -> str:
    """What a diff compares: a version's members, else the dataset's readable records."""
    return subject.version.id if subject.version is not None else subject.dataset.id


def _counts(store: Store, subject: Subject) -> tuple[dict[str, int], dict[str, int], str]:
    if subject.version is not None:
        v = subject.version
        return v.member_status_counts, store.versions.fail_code_counts(v.id), "members"
    ds = subject.dataset.id
    return store.status_counts(ds), store.code_counts(ds), "records"
