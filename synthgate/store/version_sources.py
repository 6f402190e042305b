"""What a version can be built from: an audited dataset or a finished generation run, each loaded as
its settings, its counts and a query of its candidate members.

`Versions` sees only `_Source`; a new kind of source is one more loader here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from synthgate.errors import InputError
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.generations import KIND as GENERATE_KIND
from synthgate.store.generations import RUN_MEMBERS_SQL, Generations
from synthgate.store.runs import Runs
from synthgate.store.verdicts import _RECORD_STATUS, Verdicts

# The prompt key: system prompt (NULL kept apart from "") and the prompt turns as stored (JSON
# written by one json.dumps in samples.py, so equal turns give equal text).
_PROMPT_KEY = "substr(sha256(coalesce('S' || s.system_prompt, 'N') || chr(10) || s.prompt::VARCHAR), 1, 16)"

# One row per readable record of a dataset, shaped like version_samples. Unreadable records
# (no sample) can never be trained on, so they are never members whatever `include` says.
_DATASET_MEMBERS = f"""
    SELECT s.idx AS source_index, s.sample_id AS sample_id, {_PROMPT_KEY} AS prompt_key,
           {_RECORD_STATUS} AS status,
           coalesce(list_sort(list_distinct(list(v.code))), []) AS codes,
           coalesce(list_sort(list_distinct(list(v.code) FILTER (WHERE v.status = 'fail'))), [])
               AS fail_codes,
           s.system_prompt AS system_prompt, s.prompt AS prompt, s.completion AS completion,
           s.reasoning AS reasoning, s.task_type AS task_type, s.metadata AS metadata
    FROM samples s
    LEFT JOIN verdicts v ON v.dataset_id = s.dataset_id AND v.idx = s.idx
    WHERE s.dataset_id = ? AND s.sample_id IS NOT NULL
    GROUP BY ALL
"""


@dataclass(frozen=True)
class _Source:
    """What a version needs from its source: settings, counts, and a query of candidate members."""

    id: str
    kind: str
    chain_config: dict[str, Any]
    status_counts: dict[str, int]
    code_counts: dict[str, int]
    findings: list[dict[str, Any]]
    members_sql: str
    members_params: list[Any]


class VersionSources:
    """Loads a version's source by the prefix of its id."""

    def __init__(self, con: Connection, datasets: Datasets, verdicts: Verdicts) -> None:
        self._con = con
        self._datasets = datasets
        self._verdicts = verdicts
        # Source id prefix -> loader.
        self._loaders: dict[str, Callable[[str], _Source]] = {
            "ds_": self._dataset_source,
            "run_": self._run_source,
        }

    def load(self, source_id: str) -> _Source:
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

    def _dataset_source(self, dataset_id: str) -> _Source:
        info = self._datasets.get(dataset_id)
        if info.finished_at is None:
            raise InputError(
                f"dataset {dataset_id} has no finished audit",
                hint="Run `synthgate audit` to completion, then version the dataset it stores.",
            )
        return _Source(
            id=dataset_id,
            kind="dataset",
            chain_config=info.chain_config,
            status_counts=self._verdicts.status_counts(dataset_id),
            code_counts=self._verdicts.code_counts(dataset_id),
            findings=[f.model_dump(mode="json") for f in self._datasets.findings(dataset_id)],
            members_sql=_DATASET_MEMBERS,
            members_params=[dataset_id],
        )

    def _run_source(self, run_id: str) -> _Source:
        """A finished generation run: its kept samples, checked by the chain the run config named."""
        runs = Runs(self._con)
        run = runs.get(run_id)
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
        chain_config = run.params.get("chain_config")
        if not isinstance(chain_config, dict):
            raise InputError(
                f"generation run {run_id} was recorded without its validator chain config",
                hint="Run `synthgate generate` with the same config again (it records the chain), "
                "then version the run.",
            )
        statuses, codes = Generations(self._con, runs).source_counts(run_id)
        return _Source(
            id=run_id,
            kind="run",
            chain_config=chain_config,
            status_counts=statuses,
            code_counts=codes,
            findings=[],
            members_sql=RUN_MEMBERS_SQL,
            members_params=[run_id],
        )


def _members_where(source: _Source, include: tuple[str, ...]) -> tuple[str, list[Any]]:
    marks = ", ".join("?" * len(include))
    return (
        f"FROM ({source.members_sql}) WHERE status IN ({marks})",
        [*source.members_params, *include],
    )
