"""`synthgate version`: freeze audited data as immutable versions, list, inspect and compare them."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from synthgate import api
from synthgate.cli.common import DbOption, console, handle_errors, print_id, print_json
from synthgate.store import Store, VersionDiff, VersionInfo
from synthgate.store.connection import DEFAULT_PATH

app = typer.Typer(
    help="Create, list, inspect and compare immutable dataset versions.\n\nExample:\n\n"
    "    synthgate version create rag-sft --source ds_0123456789ab && synthgate version list",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="Version name; versions sharing a name form a lineage.")],
    source: Annotated[
        str, typer.Option("--source", help="Audited dataset id (ds_...) or generation run id (run_...).")
    ],
    include: Annotated[
        str, typer.Option(help="Statuses that become members: pass, fixed, fail.")
    ] = "pass,fixed",
    parent: Annotated[
        str | None, typer.Option(help="Parent version id (default: the newest version with this name).")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Freeze an audited dataset's samples (after repairs), or a generation run's kept samples, with the
    given statuses as a version.

    The id hashes the members, the chain config and the length budget: the same content always
    gets the same id (the existing version is returned), any change a new one. Prints the id last.

    Example:
        synthgate version create rag-sft --source ds_0123456789ab --include pass,fixed
        synthgate version create rag-gen --source run_0123456789ab
    """
    info = api.create_version(name, source, include=include, parent=parent, db=db)
    if as_json:
        print_json(info_dict(info))
        return
    verb = "already versioned as" if info.reused else "created"
    console.print(
        f"{verb} {info.id} ({info.name}): {info.samples} samples from {info.source_id}", markup=False
    )
    console.print(f"  parent: {info.parent_id or '-'}   include: {','.join(info.include)}", markup=False)
    print_id(info.id)


@app.command("list")
@handle_errors
def list_versions(as_json: JsonOption = False, db: DbOption = DEFAULT_PATH) -> None:
    """List versions, newest first.

    Example:
        synthgate version list --db synthgate.duckdb
    """
    with Store.open(db) as store:
        infos = store.versions.list()
    if as_json:
        print_json([info_dict(i) for i in infos])
        return
    table = Table(show_edge=False)
    # Ids never wrap or shorten: they are what the user copies into the next command.
    table.add_column("id", no_wrap=True, min_width=18)
    table.add_column("name")
    table.add_column("samples", justify="right")
    table.add_column("parent", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for i in infos:
        table.add_row(i.id, Text(i.name), str(i.samples), i.parent_id or "-", str(i.created_at)[:16])
    console.print(table)


@app.command("show")
@handle_errors
def show(
    version_id: Annotated[str, typer.Argument(help="Version id (v_...).")],
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Show a version's lineage, settings and counts.

    Example:
        synthgate version show v_0123456789abcdef
    """
    with Store.open(db) as store:
        data = info_dict(store.versions.get(version_id))
        data["member_fail_codes"] = store.versions.fail_code_counts(version_id)
    if as_json:
        print_json(data)
        return
    shown = {**data, "include": ",".join(data["include"])}
    shown["tokenizer"] = data["tokenizer"] or "default (embedded)"
    for key in ("id", "name", "parent_id", "source_id", "include", "tokenizer", "max_length", "samples"):
        console.print(f"{key:>22}: {shown[key] if shown[key] is not None else '-'}", markup=False)
    for key in ("source_status_counts", "member_status_counts", "teacher_models", "member_fail_codes"):
        console.print(f"{key:>22}: {json.dumps(data[key])}", markup=False)
    console.print(f"{'created_at':>22}: {data['created_at']}", markup=False)


@app.command("diff")
@handle_errors
def diff(
    a: Annotated[str, typer.Argument(help="Older version id.")],
    b: Annotated[str, typer.Argument(help="Newer version id.")],
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Compare two versions: samples added, removed and changed, pass rate and code count deltas.

    "Changed" means the same prompt (system prompt and turns) with a different completion.

    Example:
        synthgate version diff v_0123456789abcdef v_fedcba9876543210
    """
    with Store.open(db) as store:
        d = store.versions.diff(a, b)
    if as_json:
        print_json(diff_dict(d))
        return
    console.print(
        f"{a} -> {b}: +{len(d.added)} added, -{len(d.removed)} removed, ~{len(d.changed)} changed",
        markup=False,
    )
    for sid in d.added:
        console.print(f"  + {sid}", markup=False)
    for sid in d.removed:
        console.print(f"  - {sid}", markup=False)
    for old, new in d.changed:
        console.print(f"  ~ {old} -> {new}", markup=False)
    if d.pass_rate_delta is not None:
        console.print(
            f"source pass rate: {d.pass_rate_a:.1%} -> {d.pass_rate_b:.1%} ({d.pass_rate_delta:+.1%})"
        )
    for code, (na, nb, delta) in d.code_deltas.items():
        if delta:
            console.print(f"  {code}: {na} -> {nb} ({delta:+d})", markup=False)


def info_dict(info: VersionInfo) -> dict[str, Any]:
    data = asdict(info)
    data["include"] = list(info.include)
    data["created_at"] = info.created_at.isoformat()
    data["source_pass_rate"] = info.source_pass_rate
    return data


def diff_dict(d: VersionDiff) -> dict[str, Any]:
    data = asdict(d)
    data["changed"] = [list(pair) for pair in d.changed]
    data["code_deltas"] = {code: list(v) for code, v in d.code_deltas.items()}
    data["pass_rate_delta"] = d.pass_rate_delta
    return data
