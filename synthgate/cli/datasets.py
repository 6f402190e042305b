"""`synthgate datasets`: list and inspect audited datasets in the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from synthgate.audit import report
from synthgate.cli.common import DbOption, console, handle_errors, print_json
from synthgate.cli.render import render_audit
from synthgate.store import Store
from synthgate.store.connection import DEFAULT_PATH

app = typer.Typer(help="List and inspect audited datasets.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """List audited datasets, newest first.

    Example:
        synthgate datasets list --db synthgate.duckdb
    """
    with Store.open(db) as store:
        infos = store.datasets.list()
        rows = [
            {
                "id": i.id,
                "name": i.name,
                "records": (i.summary or {}).get("records"),
                "status_counts": (i.summary or {}).get("status_counts"),
                "created_at": str(i.created_at),
            }
            for i in infos
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(show_edge=False)
    for col in ("id", "name", "records", "pass/fixed/fail", "created"):
        table.add_column(col)
    for r in rows:
        sc = r["status_counts"] or {}
        table.add_row(
            r["id"],
            Text(r["name"]),  # a file name, printed as is: never read as markup
            str(r["records"]),
            f"{sc.get('pass', 0)}/{sc.get('fixed', 0)}/{sc.get('fail', 0)}",
            r["created_at"][:19],
        )
    console.print(table)


@app.command("show")
@handle_errors
def show(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id (ds_...).")],
    examples: Annotated[int, typer.Option(help="Worst examples to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Show an audited dataset's summary and worst examples.

    Example:
        synthgate datasets show ds_0123456789ab
    """
    with Store.open(db) as store:
        data = report.summary(store, dataset_id)
        if as_json:
            print_json(data)
        else:
            render_audit(console, store, dataset_id, data, examples=examples)
