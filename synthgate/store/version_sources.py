"""What a version can be built from: an audited dataset or a finished generation run.

Both are datasets in the store (a run's kept samples are written as one when it finishes), so
both load through `_dataset_source`: the dataset's settings, counts, set findings and members.
A run id only resolves to its dataset first. `Versions` sees only `VersionSource`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from synthgate.errors import InputError
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.generations import KIND as GENERATE_KIND
from synthgate.store.runs import Runs
from synthgate.store.verdicts import Verdicts, records_sql

# The prompt key of a samples row `s` (report diffs pair records by it too): system prompt (NULL
# kept apart from "") and the prompt turns as stored (JSON written by one json.dumps in samples.py,
# so equal turns give equal text).
PROMPT_KEY_SQL = (
    "substr(sha256(coalesce('S' || s.system_prompt, 'N') || chr(10) || s.prompt::VARCHAR), 1, 16)"
)

# One row per record of a dataset, shaped like version_samples (the per-record query plus the
# sample's columns). Unreadable records (no sample) can never be trained on, so they are never
# members whatever `include` says (see members_where).
_MEMBERS = records_sql(
    f""", s.idx AS source_index, {PROMPT_KEY_SQL} AS prompt_key, s.system_prompt AS system_prompt,
           s.prompt AS prompt, s.completion AS completion, s.reasoning AS reasoning,
           s.task_type AS task_type, s.metadata AS metadata"""
)


@dataclass(frozen=True)
class VersionSource:
    """What a version needs from its source: settings, counts, findings, and the dataset of members.

    `id`/`kind` name what the user versioned (a dataset, or a run); `dataset_id` holds the members.
    """

    id: str
    kind: str
    chain_config: dict[str, Any]
    status_counts: dict[str, int]
    code_counts: dict[str, int]
    findings: list[dict[str, Any]]
    dataset_id: str


class VersionSources:
    """Loads a version's source by the prefix of its id."""

    def __init__(self, con: Connection, datasets: Datasets, verdicts: Verdicts) -> None:
        self._con = con
        self._datasets = datasets
        self._verdicts = verdicts
        # Source id prefix -> loader.
        self._loaders: dict[str, Callable[[str], VersionSource]] = {
            "ds_": self._dataset_source,
            "run_": self._run_source,
        }

    def load(self, source_id: str) -> VersionSource:
        """The source with this id; InputError for an id of a kind that cannot be versioned."""
        for prefix, load in self._loaders.items():
            if source_id.startswith(prefix):
                return load(source_id)
        kinds = ", ".join(f"{p}... " for p in self._loaders)
        raise InputError(
            f"{source_id!r} is not a source id this synthgate can version (expected one of: {kinds.strip()})",
            hint="Pass the id of an audited dataset (`synthgate datasets list`) or of a finished "
            "generation run (`synthgate runs list`).",
        )

    def _dataset_source(self, dataset_id: str) -> VersionSource:
        info = self._datasets.get(dataset_id)
        if info.finished_at is None:
            raise InputError(
                f"dataset {dataset_id} has no finished audit",
                hint="Run `synthgate audit` to completion, then version the dataset it stores.",
            )
        return VersionSource(
            id=dataset_id,
            kind="dataset",
            chain_config=info.chain_config,
            status_counts=self._verdicts.status_counts(dataset_id),
            code_counts=self._verdicts.code_counts(dataset_id),
            findings=[f.model_dump(mode="json") for f in self._datasets.findings(dataset_id)],
            dataset_id=dataset_id,
        )

    def _run_source(self, run_id: str) -> VersionSource:
        """A finished generation run: the dataset of its kept samples, under the run's id."""
        run = Runs(self._con).get(run_id)
        if run.kind != GENERATE_KIND:
            raise InputError(
                f"run {run_id} is a {run.kind} run; only generation runs hold samples to version",
                hint="Pass the id of a generate run (`synthgate runs list`).",
            )
        if run.finished_at is None or run.status not in ("ok", "incomplete"):
            raise InputError(
                f"generation run {run_id} has not finished (status {run.status})",
                hint="Run `synthgate generate` with the same config again: it resumes the run and "
                "finishes it; then version it.",
            )
        dataset_id = self._datasets.for_run(run_id)
        if dataset_id is None:
            raise InputError(
                f"generation run {run_id} has no dataset of its kept samples (it finished before "
                "synthgate wrote one)",
                hint="Run `synthgate generate` with the same config again: it resumes the finished run, "
                "generates nothing and writes the dataset; then version the run.",
            )
        return replace(self._dataset_source(dataset_id), id=run_id, kind="run")


def members_where(source: VersionSource, include: tuple[str, ...]) -> tuple[str, list[Any]]:
    """FROM/WHERE clause and parameters selecting `source`'s members with a status in `include`."""
    marks = ", ".join("?" * len(include))
    return (
        f"FROM ({_MEMBERS}) WHERE sample_id IS NOT NULL AND status IN ({marks})",
        [source.dataset_id, *include],
    )
