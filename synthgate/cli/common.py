"""What every command shares: the console, the --db option, and error -> exit code mapping."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from synthgate.errors import SynthgateError
from synthgate.store.connection import DEFAULT_PATH as DEFAULT_DB  # noqa: F401 - the commands import it here

# Reports are often piped to files or CI logs: don't squeeze tables into 80 columns there.
console = Console(highlight=False, soft_wrap=True)
if not console.is_terminal:
    console = Console(highlight=False, soft_wrap=True, width=140)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    Path,
    typer.Option("--db", help="DuckDB store file (created when missing).", envvar="SYNTHGATE_DB"),
]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn a SynthgateError into 'what happened / how to fix' on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SynthgateError as err:
            # Escaped: messages quote record text and hints name extras ('synthgate[gguf]').
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", markup=True)
            if err.hint:
                err_console.print(f"[yellow]how to fix:[/] {escape(err.hint)}")
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: nothing was written to the store")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_id(identifier: str) -> None:
    """Every command that creates something ends with its id alone on the last line."""
    sys.stdout.flush()
    console.print(identifier, markup=False)
