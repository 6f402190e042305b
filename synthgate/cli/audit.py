"""`synthgate audit`: gate an existing dataset file and report what would poison SFT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from synthgate import api
from synthgate.audit.inputs import resolve_inputs
from synthgate.audit.readers import count_hint
from synthgate.audit.runner import FORMAT_CHOICES
from synthgate.cli.common import (
    DbOption,
    console,
    err_console,
    handle_errors,
    print_id,
    print_json,
)
from synthgate.cli.render import render_audit
from synthgate.config import read_text_option
from synthgate.store import Store
from synthgate.store.connection import DEFAULT_PATH


@handle_errors
def audit(
    path: Annotated[
        list[str],
        typer.Argument(
            help="JSONL, JSON, Parquet, CSV, Arrow files (.gz/.bz2/.xz/.zst too), folders of shards "
            "(hub snapshots, datasets folders) or globs: all audited as one dataset.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help=f"Record format: {'|'.join(FORMAT_CHOICES)}.")
    ] = "auto",
    instruction_as_system: Annotated[
        bool, typer.Option(help="Alpaca: treat `instruction` as the system prompt.")
    ] = False,
    system_prompt: Annotated[
        str | None,
        typer.Option(help="System prompt for records without one: TEXT or @FILE."),
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer/model folder or GGUF file (default: embedded Gemma 3).")
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Training max_length in tokens [default: 2048].")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Chain config YAML/JSON (see synthgate/schemas/json).")
    ] = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 on: block (default), warn, none, or code prefixes (leak.,loop.).")
    ] = "block",
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write one JSON line per input record here.")
    ] = None,
    summary_path: Annotated[
        Path | None, typer.Option("--summary", help="Write the summary JSON here.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Report unusable records as input.* findings and audit the rest.")
    ] = False,
    strict_fields: Annotated[
        bool,
        typer.Option(help="Fail on record fields no format uses (default: keep them as metadata, listed)."),
    ] = False,
    allow_extra_fields: Annotated[
        bool, typer.Option(hidden=True, help="Kept for old commands: extra fields are kept by default.")
    ] = False,
    prompt_field: Annotated[
        str | None, typer.Option(help="Record field holding the prompt, when no common name fits.")
    ] = None,
    completion_field: Annotated[
        str | None, typer.Option(help="Record field holding the completion, when no common name fits.")
    ] = None,
    system_field: Annotated[
        str | None,
        typer.Option(help="Record field holding the system prompt (default: system, system_prompt)."),
    ] = None,
    task_field: Annotated[
        str | None,
        typer.Option(help="Record field holding the task type (default: task_type, task, type, category)."),
    ] = None,
    eval_set: Annotated[
        list[Path] | None,
        typer.Option("--eval-set", help="Eval/benchmark file to check for contamination (repeatable)."),
    ] = None,
    eval_field: Annotated[
        str | None, typer.Option(help="Question field of the eval sets (default: auto-detected).")
    ] = None,
    against: Annotated[
        Path | None, typer.Option(help="This dataset's validation split: report records shared with it.")
    ] = None,
    thinking: Annotated[
        str | None,
        typer.Option(
            help="Reasoning blocks: strip (default: remove, fixed), keep (one well-formed block before "
            "the answer; reasoning counts toward max_length) or forbid."
        ),
    ] = None,
    reasoning_field: Annotated[
        str | None,
        typer.Option(help="Record (or final assistant message) field holding the reasoning, e.g. thoughts."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split of a hub or datasets folder to audit [default: train].")
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Also write the HTML report here (see synthgate report).")
    ] = None,
    examples: Annotated[int, typer.Option(help="Worst examples to show.")] = 5,
    engine: Annotated[
        str, typer.Option(help="local (one process) or ray (Ray actors; needs the `ray` extra).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="--engine ray: auto (the cluster started here) or ray://HOST:PORT [default: a local Ray]."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="--engine ray: actors, one CPU each [default: the cluster's CPUs]."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON document (dataset_id inside).")
    ] = False,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Audit a fine-tuning dataset: every record through the validator chain, plus set-level checks.

    Prints counts per validator and code, the worst examples with the offending text highlighted,
    and the stored dataset's id on the last line (with --json: one JSON document, the id in its
    `dataset_id`). Every secret and personal datum is masked in what is printed, written and
    stored. Exits 1 when blocking findings exist, 2 on
    unusable input.

    Example:
        synthgate audit train.jsonl --system-prompt @system.txt --max-length 1024 --report report.jsonl
        synthgate audit train.jsonl --eval-set gsm8k_test.jsonl --against valid.jsonl --html audit.html
        synthgate audit dpo.jsonl --format preference --report report.jsonl
        synthgate audit distill.jsonl --thinking keep --reasoning-field reasoning_content
        synthgate audit raw.jsonl --prompt-field problem --completion-field solution --task-field kind
        synthgate audit 'shards/*.jsonl.gz' --report report.jsonl
        synthgate audit hub-snapshot/ --split test
        synthgate audit 'shards/*.parquet' --engine ray --address auto --report report.jsonl
    """
    del allow_extra_fields  # the old opt-in, now the default: accepted so old commands still run
    inputs = resolve_inputs(path, split)
    with Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,  # stdout holds only the report (or the --json document) and the id
        transient=True,
        disable=as_json or not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("audit", total=count_hint(inputs), rate="")
        result = api.audit(
            inputs,
            db=db,
            config=config,
            tokenizer=tokenizer,
            max_length=max_length,
            fmt=fmt,
            instruction_as_system=instruction_as_system,
            system_prompt=read_text_option(system_prompt, "--system-prompt"),
            skip_invalid=skip_invalid,
            strict_fields=strict_fields,
            prompt_field=prompt_field,
            completion_field=completion_field,
            system_field=system_field,
            task_field=task_field,
            eval_sets=eval_set or (),
            eval_field=eval_field,
            against=against,
            thinking=thinking,
            reasoning_field=reasoning_field,
            split=split,
            fail_on=fail_on,
            report=report_path,
            summary=summary_path,
            html=html_path,
            progress=lambda n: bar.advance(task, n),
            engine=engine,
            address=address,
            workers=workers,
        )
    if as_json:
        print_json(result.summary)
    else:
        with Store.open(db) as store:
            render_audit(console, store, result.dataset_id, result.summary, examples=examples)
    if result.html is not None:
        err_console.print(f"HTML report: {result.html}", markup=False)  # stdout keeps the id (or JSON) last
    if not as_json:
        print_id(result.dataset_id)
    if result.failed:
        raise typer.Exit(1)
