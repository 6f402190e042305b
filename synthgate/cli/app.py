"""The `synthgate` command: a thin Typer shell over the library API."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate import __version__
from synthgate.cli import audit as audit_cmd
from synthgate.cli import datasets as datasets_cmd
from synthgate.cli import eval as eval_cmd
from synthgate.cli import export as export_cmd
from synthgate.cli import generate as generate_cmd
from synthgate.cli import report as report_cmd
from synthgate.cli import runs as runs_cmd
from synthgate.cli import train as train_cmd
from synthgate.cli import versions
from synthgate.store.connection import MEMORY_LIMIT_ENV, TEMP_DIR_ENV
from synthgate.store.connection import configure as configure_store

app = typer.Typer(
    name="synthgate",
    help="A data-quality gate for synthetic fine-tuning data.\n\nExit codes: 0 ok, 1 findings or "
    "refusal, 2 unusable input.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("audit")(audit_cmd.audit)
app.add_typer(datasets_cmd.app, name="datasets")
app.add_typer(versions.app, name="version")
app.command("export")(export_cmd.export)
app.command("generate")(generate_cmd.generate)
app.add_typer(runs_cmd.app, name="runs")
app.command("train")(train_cmd.train)
app.command("eval")(eval_cmd.eval_cmd)
app.command("report")(report_cmd.report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthgate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print version."),
    db_memory_limit: str | None = typer.Option(
        None,
        "--db-memory-limit",
        envvar=MEMORY_LIMIT_ENV,
        help="Memory the store's queries may use before spilling to disk: 2GB, 512MB, 25% "
        "(default: a quarter of RAM, at most 1 GiB).",
        show_default=False,
    ),
    db_temp_dir: Path | None = typer.Option(
        None,
        "--db-temp-dir",
        envvar=TEMP_DIR_ENV,
        help="Folder the store spills to and audits stage their rows in (default: <db>.tmp).",
        show_default=False,
    ),
) -> None:
    """A data-quality gate for synthetic fine-tuning data."""
    configure_store(db_memory_limit, db_temp_dir)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
