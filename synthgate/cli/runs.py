"""`synthgate runs`: list runs and show what a generation run did."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from synthgate.cli.common import DbOption, console, handle_errors, print_json
from synthgate.store import Store
from synthgate.store.connection import DEFAULT_PATH
from synthgate.store.generations import KIND

app = typer.Typer(help="List runs and show their summaries.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("list")
@handle_errors
def list_runs(as_json: JsonOption = False, db: DbOption = DEFAULT_PATH) -> None:
    """List runs (generation and others), newest first.

    Example:
        synthgate runs list --db synthgate.duckdb
    """
    with Store.open(db) as store:
        runs = store.runs.list()
    rows = [
        {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "name": r.params.get("name"),
            "kept": (r.summary or {}).get("kept"),
            "requested": r.params.get("count"),
            "created_at": str(r.created_at),
        }
        for r in runs
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(show_edge=False)
    table.add_column("id", no_wrap=True, min_width=16)
    for col in ("kind", "status", "name", "kept", "created"):
        table.add_column(col, no_wrap=col == "created")
    for r in rows:
        kept = f"{r['kept'] if r['kept'] is not None else '-'}/{r['requested'] or '-'}"
        table.add_row(r["id"], r["kind"], r["status"], Text(r["name"] or "-"), kept, r["created_at"][:16])
    console.print(table)


@app.command("show")
@handle_errors
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (run_...).")],
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Show a generation run: requested, attempts, samples by status and code, persona x task
    coverage, critic score distribution and errors by kind.

    Example:
        synthgate runs show run_0123456789ab --json
    """
    with Store.open(db) as store:
        run = store.runs.get(run_id)
        data: dict[str, Any] = (
            store.generations.summary(run_id)
            if run.kind == KIND
            else {"id": run.id, "kind": run.kind, "status": run.status, "summary": run.summary}
        )
    if as_json:
        print_json(data)
        return
    if run.kind != KIND:
        console.print(json.dumps(data, indent=2, default=str), markup=False)
        return
    _print_generation(data)


def _print_generation(d: dict[str, Any]) -> None:
    p = lambda text: console.print(text, markup=False)  # noqa: E731
    p(f"run {d['id']} ({d['name']}): {d['status']}")
    s = d["samples_by_status"]
    p(f"  requested {d['requested']}  jobs {d['jobs']}  requests {d['attempts']}")
    p(f"  kept {s['kept']}  rejected {s['rejected']}  failed {s['failed']}")
    if d.get("dataset_id"):
        p(f"  kept samples as a dataset: {d['dataset_id']} (synthgate datasets show {d['dataset_id']})")
    for title, key in (
        ("reject reasons", "reject_reasons"),
        ("codes", "codes"),
        ("errors by kind", "errors_by_kind"),
    ):
        if d[key]:
            p(f"  {title}: " + ", ".join(f"{k} {n}" for k, n in d[key].items()))
    for role, r in d["requests"].items():
        p(
            f"  {role}: {r['requests']} requests, {r['errors']} errors, tokens {r['prompt_tokens']} in / "
            f"{r['completion_tokens']} out, median latency {r['median_latency_s']} s"
        )
    for url, r in (d.get("servers") or {}).items():  # a role listed several servers
        p(f"  server {url}: {r['requests']} requests, {r['errors']} errors")
    for name, c in d["critic"].items():
        hist = " ".join(f"{b}:{n}" for b, n in c["histogram"].items())
        p(f"  critic {name}: mean {c['mean']}  [{hist}]")
    if d["coverage"]:
        tasks = sorted({t for row in d["coverage"].values() for t in row})
        table = Table(title="kept samples, persona x task", show_edge=False)
        table.add_column("persona", no_wrap=True)
        for t in tasks:
            table.add_column(t, justify="right")
        for persona, row in sorted(d["coverage"].items()):
            table.add_row(persona, *(str(row.get(t, 0)) for t in tasks))
        console.print(table)
