"""Every command has help text and is documented in the docs (README.md or a docs/ page)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synthgate.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in PAGES}


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        if hasattr(cmd, "commands"):  # a command group (typer may vendor its own click)
            yield from _commands(cmd, path)
        else:
            yield path, cmd


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_there_are_commands_to_check():
    assert ("audit",) in [p for p, _ in COMMANDS]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_command_has_help_with_an_example(path):
    result = CliRunner().invoke(app, [*path, "-h"])
    assert result.exit_code == 0
    assert "Example:" in result.output, f"synthgate {' '.join(path)} lacks an Example: block"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_command_is_documented(path):
    command = f"synthgate {' '.join(path)}"
    documented = any(command in text for text in DOCS.values())
    assert documented, f"no page in README.md or docs/ documents {command}"
