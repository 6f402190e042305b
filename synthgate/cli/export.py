"""`synthgate export`: gate a version and write it as training files with a verifiable manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthgate import api
from synthgate.cli.common import DbOption, console, handle_errors, print_id, print_json
from synthgate.store.connection import DEFAULT_PATH
from synthgate.training.export import DEFAULT_SEED, FORMATS


@handle_errors
def export(
    version_id: Annotated[str, typer.Argument(help="Version id (v_...).")],
    out: Annotated[Path, typer.Option("--out", help="New (or empty) folder to write the export into.")],
    fmt: Annotated[str, typer.Option("--format", help=f"Output format: {'|'.join(FORMATS)}.")] = "trl-jsonl",
    gate: Annotated[
        Path | None, typer.Option("--gate", help="Gate policy YAML (default: the shipped default_gate.yaml).")
    ] = None,
    eval_fraction: Annotated[float, typer.Option(help="Share of samples held out for eval.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the deterministic train/eval split.")] = DEFAULT_SEED,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the manifest as one JSON document, plus `out_dir`.")
    ] = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Export a version for training, only if it passes the gate.

    Writes train/eval files (TRL conversational prompt/completion) and manifest.json with every
    file's sha256. A refused export exits 1, prints each failed check, and writes nothing. Prints
    the export folder last (with --json: one JSON document, the folder in its `out_dir`).

    Example:
        synthgate export v_0123456789abcdef --format trl-jsonl --out exports/rag-sft --gate gate.yaml
    """
    result = api.export(version_id, out, fmt=fmt, gate=gate, eval_fraction=eval_fraction, seed=seed, db=db)
    if as_json:
        print_json({**result.manifest.model_dump(mode="json"), "out_dir": str(result.out_dir)})
        return
    console.print(result.gate.explain(), markup=False)
    counts = result.counts
    console.print(
        f"exported {version_id} as {fmt}: {counts['train']} train, {counts['eval']} eval samples",
        markup=False,
    )
    for name, entry in result.manifest.files.items():
        console.print(f"  {name}  {entry.records} records  sha256 {entry.sha256[:16]}…", markup=False)
    print_id(str(result.out_dir))
