"""`synthgate eval`: base zero-shot vs. base few-shot vs. base + adapter on a held-out eval file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from synthgate.cli.common import DbOption, console, handle_errors, print_id
from synthgate.errors import ConfigError
from synthgate.store import Store
from synthgate.store.connection import DEFAULT_PATH
from synthgate.training.eval import (
    DEFAULT_K,
    DEFAULT_MAX_NEW_TOKENS,
    METRIC_NAMES,
    EvalReport,
    evaluate_arms,
    load_eval_questions,
    shots_from_export,
    shots_from_version,
    write_report,
)

# Metric -> True when higher is better, False when lower is; others (mean_words) are not ranked.
# The best value of a ranked row is shown in bold.
HIGHER_IS_BETTER = {
    "keyword_coverage": True,
    "format_compliance": True,
    "parroting_rate": False,
    "looping_rate": False,
    "refusal_accuracy": True,
    "refusal_recall": True,
    "false_refusal_rate": False,
    "mean_latency_s": False,
    "truncated_rate": False,
}


@handle_errors
def eval_cmd(
    eval_file: Annotated[
        Path, typer.Argument(help="JSONL eval items (question, context, expected_keywords, ...).")
    ],
    base_model: Annotated[
        str,
        typer.Option(
            "--base-model", help="Model folder, .gguf file, or 'default' (the embedded Gemma 3 270M)."
        ),
    ] = "default",
    adapter: Annotated[
        Path | None, typer.Option("--adapter", help="LoRA adapter folder (`synthgate train --out`).")
    ] = None,
    train_export: Annotated[
        Path | None, typer.Option("--train-export", help="Export folder to draw few-shot examples from.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Version id (v_...) to draw few-shot examples from.")
    ] = None,
    k: Annotated[
        int, typer.Option("--k", min=0, help="Few-shot examples per prompt (0: no few-shot arm).")
    ] = (DEFAULT_K),
    seed: Annotated[int, typer.Option(help="Seed of the deterministic few-shot draw.")] = 0,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Token limit per answer (greedy decoding).")
    ] = DEFAULT_MAX_NEW_TOKENS,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Prompts generated together.")] = 8,
    out: Annotated[Path | None, typer.Option("--out", help="Write metrics and every answer as JSON.")] = None,
    db: DbOption = DEFAULT_PATH,
) -> None:
    """Compare base zero-shot, base few-shot and base + adapter on held-out questions.

    Metrics per arm: keyword coverage, prose-format compliance, system-prompt parroting rate,
    looping rate (the audit's validators applied to the answers), refusal accuracy, mean words
    and latency per answer. Few-shot examples come from --train-export or --version (k drawn by
    a seeded hash, so reruns use the same ones). Prints the table; with --out, the JSON path last.

    Example:
        synthgate eval rag_eval.jsonl --adapter runs/rag-lora --train-export exports/rag-sft --out r.json
    """
    if train_export is not None and version is not None:
        raise ConfigError(
            "pass --train-export or --version, not both (both are sources of few-shot examples)"
        )
    items = load_eval_questions(eval_file)
    shots = []
    if k and train_export is not None:
        shots = shots_from_export(train_export, k, seed)
    elif k and version is not None:
        with Store.open(db) as store:
            shots = shots_from_version(store, version, k, seed)
    report = evaluate_arms(
        items, base_model, adapter=adapter, shots=shots, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    console.print(table(report))
    if out is not None:
        print_id(str(write_report(report, out)))


def table(report: EvalReport) -> Table:
    """Metrics as rows, arms as columns; the best value of each row in bold."""
    settings = report.settings
    title = f"{settings['items']} eval items, greedy, max {settings['max_new_tokens']} new tokens"
    grid = Table(title=title, show_edge=False)
    grid.add_column("metric")
    for arm in report.arms:
        label = f"{arm.label} (k={settings['k']})" if arm.name == "few_shot" else arm.label
        grid.add_column(label, justify="right")
    for metric in METRIC_NAMES:
        higher = HIGHER_IS_BETTER.get(metric)
        values = [getattr(a.metrics, metric) for a in report.arms]
        known = [v for v in values if v is not None]
        best = None if higher is None or len(known) < 2 else (max if higher else min)(known)
        cells = []
        for v in values:
            text = _fmt(metric, v)
            cells.append(f"[bold]{text}[/]" if best is not None and v == best else text)
        grid.add_row(metric, *cells)
    return grid


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "mean_words":
        return f"{value:.1f}"
    if metric == "mean_latency_s":
        return f"{value:.2f} s"
    return f"{value:.0%}"
