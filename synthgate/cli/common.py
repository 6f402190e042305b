"""What every command shares: the console, the --db option, error -> exit code mapping, and the
two ways out for machine output (`print_json`) and ids (`print_id`).

Whatever a command prints that came from a record (text, messages, ids, error details) is masked
with `mask_secrets` and escaped with `rich.markup.escape` (or printed with markup=False), so a
key never reaches a CI log and `[location]` brackets survive.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from synthgate.errors import SynthgateError
from synthgate.validators.secrets import mask_secrets, mask_strings

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
            # Input errors may quote a record (an unknown role, a field name): masked and escaped.
            err_console.print(f"[bold red]error:[/] {safe(str(err))}")
            if err.hint:
                err_console.print(f"[yellow]how to fix:[/] {safe(err.hint)}")
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: nothing was written to the store")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def safe(text: str) -> str:
    """`text` with secrets masked and rich markup escaped, ready to interpolate into markup."""
    return escape(mask_secrets(text))


def print_json(data: Any) -> None:
    """`--json`: exactly one JSON document on stdout (the created id inside it), secrets masked.

    Plain `json.dumps`, not rich: nothing on stdout but the document, whatever the terminal.
    """
    sys.stdout.flush()
    typer.echo(json.dumps(mask_strings(data), indent=2, ensure_ascii=False, default=str))


def print_id(identifier: str) -> None:
    """Every command that creates something ends with its id alone on the last line."""
    sys.stdout.flush()
    console.print(identifier, markup=False)
