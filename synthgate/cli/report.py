"""`synthgate report`: one self-contained HTML file showing what is wrong with a dataset and where."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthgate.cli.common import DbOption, handle_errors, print_id
from synthgate.report.html import write_report
from synthgate.store import Store
from synthgate.store.connection import DEFAULT_PATH


@handle_errors
def report(
    report_id: Annotated[
        str, typer.Argument(help="Dataset id (ds_...), finished generation run id (run_...) or version id.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write [default: report-ID.html].")
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            help="Baseline dataset, run or version id: status and code deltas, records added, removed, "
            "changed.",
        ),
    ] = None,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Write an HTML report of an audit: gate verdict, codes chart, token-length histograms against
    max_length, the worst examples with the offending span highlighted, set findings, diversity,
    contamination hits per eval file, and for a generated set the persona x task grid and critic scores.

    One file with inline CSS and SVG that opens offline; secrets are masked. Prints the file's path
    on the last line.

    Example:
        synthgate report ds_0123456789ab --out audit.html
        synthgate report NEW_VERSION --compare OLD_VERSION --out diff.html
        synthgate report run_0123456789ab --out generated.html
    """
    path = out or Path(f"report-{report_id}.html")
    with Store.open(db) as store:
        written = write_report(store, report_id, path, compare=compare)
    print_id(str(written))
