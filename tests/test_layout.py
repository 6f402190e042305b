"""The package layout keeps its promises: no module reaches into another module's private names (a
helper used by two files has a public name and a home), text normalisation and the default store
path have one home each, and validators/schemas never import the layers above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import synthgate

PACKAGE = Path(synthgate.__file__).parent


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(path: Path) -> list[str]:
    """`from x import _name`, `import x._mod` and `x._name` where `x` is a synthgate module imported here."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    aliases: set[str] = set()  # local names bound to other synthgate modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("synthgate"):
            module = node.module or ""
            if any(is_private(part) for part in module.split(".")):
                found.append(f"{path.name}:{node.lineno}: from {module} import ...")
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"{path.name}:{node.lineno}: from {module} import {alias.name}")
                else:
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("synthgate"):
                    if any(is_private(part) for part in alias.name.split(".")):
                        found.append(f"{path.name}:{node.lineno}: import {alias.name}")
                    aliases.add((alias.asname or alias.name).split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return sorted(found, key=lambda hit: int(hit.split(":")[1]))


def test_no_module_imports_a_private_name_from_another_module():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path)]
    assert found == []


def test_the_scan_sees_each_kind_of_private_import(tmp_path):
    # The scanner itself must be able to fail: each spelling of a cross-file private use is caught.
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from synthgate.validators.leakage.words import _META\n"
        "import synthgate.store._private\n"
        "from synthgate.validators import sets\n"
        "sets._helper()\n"
        "from synthgate.validators.sets import SetChecker\n"
        "SetChecker._private\n"
        "self._own = 1\n"  # a class's own private attribute is not a cross-file use
    )
    assert private_imports(bad) == [
        "bad.py:1: from synthgate.validators.leakage.words import _META",
        "bad.py:2: import synthgate.store._private",
        "bad.py:4: sets._helper",
        "bad.py:6: SetChecker._private",
    ]


def normalising_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        f"{path.relative_to(PACKAGE)}:{node.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and "norm" in node.name.lower()
    ]


def test_text_normalisation_has_one_home():
    # Every check compares texts through validators/normalize.py; a local `_norm` is a second
    # definition of "the same text" that drifts from the first.
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in normalising_functions(path)]
    assert found and all(hit.startswith("validators/normalize.py:") for hit in found), found


def path_literals(path: Path, needle: str = "synthgate.duckdb") -> list[str]:
    """String constants (docstrings and help examples aside) naming the default store file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value.strip() == needle
    ]


def test_the_default_store_path_is_written_once():
    # store.connection.DEFAULT_PATH is the one default; the CLI and configs import it.
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in path_literals(path)]
    assert [hit.split(":")[0] for hit in found] == ["store/connection.py"], found


UPPER_LAYERS = ("synthgate.store", "synthgate.audit", "synthgate.pipelines", "synthgate.training")
UPPER_LAYERS += ("synthgate.cli", "synthgate.report")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    found += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return found


@pytest.mark.parametrize("layer", ["validators", "schemas"])
def test_validators_and_schemas_never_import_the_layers_above_them(layer):
    # Even under TYPE_CHECKING: a validator's types come from schemas/ or its own module.
    found = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for module in imported_modules(path)
        if module.startswith(UPPER_LAYERS)
    ]
    assert found == []


def test_schemas_never_import_validators():
    found = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in sorted((PACKAGE / "schemas").rglob("*.py"))
        for module in imported_modules(path)
        if module.startswith("synthgate.validators")
    ]
    assert found == []
