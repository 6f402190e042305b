"""Rich rendering of an audit: counts, set findings, and the worst examples with spans marked.

Record-derived text (excerpts, messages, openings, labels, the source path) is masked with
`mask_secrets` and never read as markup: `safe()` in f-strings, `Text` or markup=False elsewhere.
The store already holds masked text; masking again here (a few excerpts) covers stores written
before masking existed.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from synthgate.cli.common import safe
from synthgate.report.excerpts import excerpt, span_text
from synthgate.schemas.verdict import Verdict
from synthgate.store import Store
from synthgate.validators.codes import CODES
from synthgate.validators.secrets import mask_secrets


def _input_line(data: dict[str, Any]) -> str:
    """How the records were read and which fields were kept as metadata, on one line."""
    read = ", ".join(f"{shape} ({n})" for shape, n in (data.get("read_as") or {}).items())
    extra = ", ".join(f"{name} ({n})" for name, n in (data.get("extra_fields") or {}).items())
    parts = [f"read as: {read}" if read else "", f"extra fields kept as metadata: {extra}" if extra else ""]
    return "; ".join(p for p in parts if p)


def render_audit(
    console: Console, store: Store, dataset_id: str, data: dict[str, Any], *, examples: int
) -> None:
    records = data.get("records") or 0
    shards = data.get("shards") or []
    source = mask_secrets(str(data.get("source")))
    line = Text.assemble((f"Audited {records} records", "bold"), f" from {source}")
    if len(shards) > 1:  # the summary JSON lists them
        line.append(f" ({len(shards)} files)")
    console.print(line)  # a Text: paths print as they are, never as markup
    if data.get("read_as") or data.get("extra_fields"):
        console.print(Text(mask_secrets(_input_line(data)), style="dim"))
    counts = data["status_counts"]
    status = Table(title="Records by status", show_edge=False)
    status.add_column("status")
    status.add_column("records", justify="right")
    status.add_column("share", justify="right")
    for name, style in (("pass", "green"), ("fixed", "yellow"), ("fail", "red")):
        n = counts.get(name, 0)
        status.add_row(f"[{style}]{name}[/]", str(n), f"{n / records:.1%}" if records else "-")
    console.print(status)

    if data["codes"]:
        table = Table(title="Findings by validator and code (records)", show_edge=False)
        table.add_column("validator", no_wrap=True)
        table.add_column("code", no_wrap=True)
        table.add_column("records", justify="right")
        table.add_column("effect", no_wrap=True)
        table.add_column("meaning", overflow="fold")
        severities = _severities(store, dataset_id)
        for validator, codes in sorted(data["verdicts_by_validator"].items()):
            for code in sorted(codes):
                sev = severities.get(code, "")
                if code in CODES and CODES[code].status == "fixed":
                    sev = "fixed"
                style = {"block": "red", "fixed": "cyan"}.get(sev, "yellow")
                meaning = CODES[code].summary if code in CODES else ""
                records_with = data["codes"].get(code, codes[code])
                table.add_row(validator, f"[{style}]{code}[/]", str(records_with), sev, meaning)
        console.print(table)

    if data["set_findings"]:
        console.print("[bold]Set-level findings[/]")
        for f in data["set_findings"]:
            share = f" ({f['share']:.1%})" if f.get("share") is not None else ""
            console.print(f"  [yellow]{f['code']}[/] {f['count']} records{share}: {safe(f['message'])}")

    if data.get("preference"):
        _render_preference(console, data["preference"])
    if data.get("diversity"):
        _render_diversity(console, data["diversity"])

    if examples > 0:
        _render_examples(console, store, dataset_id, examples)


def _render_preference(console: Console, p: dict[str, Any]) -> None:
    n = p.get("pairs", 0)
    console.print(f"[bold]Preference pairs[/] ({n})")
    for key, label in (
        ("chosen_failed", "chosen side fails"),
        ("rejected_failed", "rejected side fails"),
        ("identical_pairs", "identical"),
        ("near_identical_pairs", "near-identical (warn)"),
        ("chosen_refusals", "chosen is a refusal"),
    ):
        count = p.get(key, 0)
        console.print(f"  {label}: {count}" + (f" ({count / n:.1%})" if n else ""))


def _render_diversity(console: Console, d: dict[str, Any]) -> None:
    console.print("[bold]Diversity[/]")
    console.print(
        f"  distinct completions: {d['distinct_completions']} ({d['distinct_completion_ratio']:.1%}), "
        f"distinct prompts: {d['distinct_prompts']} ({d['distinct_prompt_ratio']:.1%})"
    )
    if d.get("top_openings"):
        console.print(f"  most repeated openings (first {d.get('opening_words', 5)} words):")
        for o in d["top_openings"]:
            console.print(f"    {o['count']:>6}  {mask_secrets(o['opening'])!r}", markup=False)
    for key, title in (("task_types", "task types"), ("personas", "personas")):
        dist = d.get(key)
        if not dist:
            continue
        top = ", ".join(f"{t['label']} {t['count']}" for t in dist["top"][:8])
        more = f" (+{dist['distinct'] - 8} more)" if dist["distinct"] > 8 else ""
        console.print(f"  {title} ({dist['distinct']} distinct): {mask_secrets(top)}{more}", markup=False)


def _severities(store: Store, dataset_id: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for _, v in store.verdicts.for_dataset(dataset_id):
        if out.get(v.code) != "block":
            out[v.code] = v.severity
    return out


def _render_examples(console: Console, store: Store, dataset_id: str, limit: int) -> None:
    """One example per code, blocking codes first: the offending span highlighted in context."""
    seen: set[str] = set()
    picked: list[tuple[int, Verdict]] = []
    verdicts = sorted(store.verdicts.for_dataset(dataset_id), key=lambda iv: (not iv[1].blocks, iv[0]))
    for index, v in verdicts:
        if v.code not in seen and v.status == "fail":
            seen.add(v.code)
            picked.append((index, v))
        if len(picked) >= limit:
            break
    if not picked:
        return
    console.print("[bold]Worst examples[/]")
    for index, v in picked:
        console.print(f"  record {index} [red]{v.code}[/]: {safe(v.message)}")
        snippet = _snippet(store, dataset_id, index, v)
        if snippet is not None:
            console.print(Text("    ") + snippet)


def _snippet(store: Store, dataset_id: str, index: int, v: Verdict) -> Text | None:
    row = store.samples.get(dataset_id, index)
    if row is None or row.sample is None or v.span is None:
        return None
    text = span_text(row.original or row.sample, v)
    if text is None:
        return None
    ex = excerpt(text, v.span.start, v.span.end)
    out = Text("…" if ex.cut_left else "")
    out.append(ex.before.replace("\n", " "))
    out.append(ex.hit.replace("\n", " "), style="bold white on red")
    if ex.more:
        out.append(f"…[{ex.more} more chars]", style="red")
    out.append(ex.after.replace("\n", " "))
    if ex.cut_right:
        out.append("…")
    return out
