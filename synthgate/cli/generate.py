"""`synthgate generate`: build a training set with a teacher, the validator chain and a critic."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from synthgate import api
from synthgate.cli.common import console, err_console, handle_errors, print_id
from synthgate.pipelines.config import load_generate_config
from synthgate.pipelines.runner import RunState, candidate_goal


@handle_errors
def generate(
    config: Annotated[
        Path, typer.Argument(help="Generate config (YAML); schema in synthgate/pipelines/examples/.")
    ],
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="DuckDB store file (default: the config's `store`).", envvar="SYNTHGATE_DB"
        ),
    ] = None,
) -> None:
    """Generate samples until `count` pass the validators and the critic; resumes a stopped run.

    The run's identity is a hash of the config (secrets are never in it): running the same config
    again resumes the run, redoing only jobs that were in flight. Prints the run id last; exit 1
    when the job limit was reached before `count` samples were kept.

    Example:
        OPENAI_API_KEY=... synthgate generate synthgate/pipelines/examples/rag-qa.yaml --db gen.duckdb
    """
    cfg = load_generate_config(config)
    # Under critic.keep_top the bar counts candidates (count / keep_top), then the best `count` are kept.
    with _RunProgress(candidate_goal(cfg)) as bar:
        try:
            state = api.generate(cfg, db=db, base=config.resolve().parent, on_progress=bar.update)
        except KeyboardInterrupt:
            err_console.print("interrupted: finished samples are stored; run the same command to resume")
            raise typer.Exit(130) from None
    verb = "resumed" if state.resumed else "created"
    console.print(
        f"{verb} run {state.run_id} ({cfg.name}): kept {state.kept}/{state.requested}, "
        f"rejected {state.rejected}, failed {state.failed}",
        markup=False,
    )
    if state.status != "ok":
        err_console.print(
            "job limit reached before `count` samples were kept (raise max_jobs, or see runs show)"
        )
    print_id(state.run_id)
    if state.status != "ok":
        raise typer.Exit(1)


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:  # type: ignore[no-untyped-def]
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} samples/s" if speed else "-- samples/s")


class _RunProgress:
    """A rich bar on stderr: kept / count, rate, ETA and the live reject counts by reason."""

    # Not a terminal (CI logs, `2> file`): a plain line at most this often instead of a live bar,
    # whose last frame would be squeezed into the log's width.
    PLAIN_EVERY_S = 30.0

    def __init__(self, total: int) -> None:
        self._total = total
        self._plain = not err_console.is_terminal
        self._last_plain = 0.0
        self._started = time.monotonic()
        self._progress = Progress(
            TextColumn("generating"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[rejects]}"),
            console=err_console,
            disable=self._plain,
        )
        self._task = self._progress.add_task("generate", total=total, rejects="")

    def __enter__(self) -> _RunProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, state: RunState) -> None:
        top = sorted(state.reasons.items(), key=lambda kv: -kv[1])[:4]
        rejects = f"rejected {state.rejected} failed {state.failed}"
        if top:
            rejects += " (" + ", ".join(f"{code} {n}" for code, n in top) + ")"
        self._progress.update(self._task, completed=state.kept, rejects=rejects)
        now = time.monotonic()
        if self._plain and (now - self._last_plain >= self.PLAIN_EVERY_S or state.kept >= self._total):
            self._last_plain = now
            rate = state.kept / max(now - self._started, 1e-9)
            err_console.print(
                f"generating: kept {state.kept}/{self._total}, {rejects}, {rate:.2f} samples/s",
                markup=False,
                soft_wrap=True,
            )
