"""Every command has help text and README documentation."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synthgate.cli.app import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


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
def test_command_is_documented_in_readme(path):
    assert f"synthgate {' '.join(path)}" in README, f"README does not document synthgate {' '.join(path)}"
