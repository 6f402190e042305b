"""Versions, the gate and exports from Python: `create_version`, `check_gate`, `export`.

Each takes the options of its command (`synthgate version create`, `synthgate export`) and
`db=`: a DuckDB file (default: synthgate.duckdb, as the commands' --db) or an open Store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from synthgate.api.stores import using_store

if TYPE_CHECKING:
    from synthgate.store import Store, VersionInfo
    from synthgate.training.export import ExportResult
    from synthgate.training.gate import GatePolicy, GateResult

PathLike = str | os.PathLike[str]


def create_version(
    name: str,
    source: str,
    *,
    include: str | Sequence[str] | None = None,
    parent: str | None = None,
    db: Store | PathLike | None = None,
) -> VersionInfo:
    """Freeze an audited dataset (`ds_...`) or a generation run's kept samples (`run_...`) as a
    version: the members are the samples whose status is in `include` ("pass,fixed" by default).

    The same content always gets the same id: an existing version comes back with `reused=True`.
    `parent` defaults to the newest version with this name. Raises NotFound for an unknown source.
    """
    from synthgate.store.versions import DEFAULT_INCLUDE

    statuses = include.split(",") if isinstance(include, str) else include or DEFAULT_INCLUDE
    with using_store(db) as store:
        return store.versions.create(name, source, include=list(statuses), parent=parent)


def check_gate(
    subject: str, *, gate: PathLike | GatePolicy | None = None, db: Store | PathLike | None = None
) -> GateResult:
    """Run the gate's checks on a version (`v_...`), or on the version a dataset (`ds_...`) would
    make with the default include, without making it. `gate` is a policy file or GatePolicy
    (default: the shipped default_gate.yaml). The result says `passed`, each check, `explain()`."""
    from synthgate.training import gate as gates

    policy = _policy(gate)
    with using_store(db) as store:
        if subject.startswith("v_"):
            return gates.check_gate(store, subject, policy)
        return gates.preview_gate(store, subject, policy)


def export(
    version_id: str,
    out: PathLike,
    *,
    fmt: str = "trl-jsonl",
    gate: PathLike | GatePolicy | None = None,
    eval_fraction: float = 0.1,
    seed: int | None = None,
    db: Store | PathLike | None = None,
) -> ExportResult:
    """Gate a version and, when it passes, write it to the new folder `out` as `fmt` (trl-jsonl,
    parquet, hf-dataset) with a manifest of every file's sha256; `seed` (default: the shipped one)
    fixes the train/eval split. Raises GateRefused naming each failed check; nothing is written
    then."""
    from synthgate.training.export import DEFAULT_SEED
    from synthgate.training.export import export as run_export

    policy = _policy(gate)
    seed = DEFAULT_SEED if seed is None else seed
    with using_store(db) as store:
        return run_export(store, version_id, fmt, out, policy, eval_fraction=eval_fraction, seed=seed)


def _policy(gate: PathLike | GatePolicy | None) -> GatePolicy:
    from synthgate.training.gate import GatePolicy, load_policy

    return gate if isinstance(gate, GatePolicy) else load_policy(gate)
