"""`generate` from Python: the run `synthgate generate CONFIG` makes, with the same config file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from synthgate.api.stores import using_store

if TYPE_CHECKING:
    from synthgate.pipelines.config import GenerateConfig
    from synthgate.pipelines.runner import ProgressCallback
    from synthgate.pipelines.scheduler import RunState
    from synthgate.store import Store

PathLike = str | os.PathLike[str]


def generate(
    config: PathLike | GenerateConfig,
    *,
    db: Store | PathLike | None = None,
    base: PathLike | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunState:
    """Generate samples until the config's `count` pass the validators and the critic; running the
    same config again resumes its run. `config` is a generate config file (YAML) or a
    GenerateConfig; relative paths in it point from `base` (default: the file's folder, else the
    working directory). `db` defaults to the config's `store`, under `base`. Returns the run's
    counts (`run_id`, `kept`, `status`: "ok", or not when the job limit came first)."""
    from synthgate.pipelines.config import GenerateConfig, load_generate_config
    from synthgate.pipelines.runner import generate as run_generate

    if isinstance(config, GenerateConfig):
        cfg, folder = config, Path(base) if base is not None else Path(".")
    else:
        path = Path(config)
        cfg, folder = load_generate_config(path), Path(base) if base is not None else path.resolve().parent
    with using_store(db if db is not None else folder / cfg.store) as store:
        return run_generate(cfg, store, base=folder, on_progress=on_progress)
