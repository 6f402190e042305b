"""`synthgate.audit(data, ...)`: audit a file or records in memory and get the report as objects.

The same audit as `synthgate audit` (the command calls this function), with the options named as
the command's flags are. By default it runs in a DuckDB store that lives only for the call; pass
`db=` a file path (or an open `synthgate.store.Store`) to keep the dataset for `create_version`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from synthgate.api.stores import IN_MEMORY, using_store
from synthgate.errors import ConfigError
from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import SetFinding, Status, Verdict

if TYPE_CHECKING:
    import pandas as pd

    from synthgate.store import Store

PathLike = str | os.PathLike[str]

# The columns of AuditResult.to_pandas(), one row per input record.
RECORD_COLUMNS = (
    "index",
    "id",
    "status",
    "codes",
    "system_prompt",
    "prompt",
    "completion",
    "verdicts",
    "shard",
    "line",
)


@dataclass(frozen=True)
class RecordReport:
    """One input record's outcome, in input order: its status (pass, fixed, fail), the distinct
    reason codes and every verdict on it, the sample as stored (after repairs; None when the record
    could not be read), and the file (`shard`) and `line` it came from, when it came from a file."""

    index: int
    id: str | None
    status: Status
    codes: list[str]
    verdicts: list[Verdict]
    sample: Sample | None
    shard: str | None
    line: int | None


class AuditResult:
    """What an audit found: the stored dataset's id, the summary (the `--json` document of
    `synthgate audit`), the set-level findings, and the per-record report (`records`,
    `to_pandas()`). `failed` says whether the findings meet `fail_on` (the command's exit 1)."""

    def __init__(
        self,
        dataset_id: str,
        summary: dict[str, Any],
        set_findings: list[SetFinding],
        failed: bool,
        html: Path | None,
        load_records: Callable[[], list[RecordReport]],
    ) -> None:
        self.dataset_id = dataset_id
        self.summary = summary
        self.set_findings = set_findings
        self.failed = failed
        self.html = html
        self._load_records = load_records
        self._records: list[RecordReport] | None = None

    @property
    def records(self) -> list[RecordReport]:
        """The per-record report, read from the store on first use (from a `db=` file by opening it
        again; from an open Store while it is open; an in-memory audit's before the call returned)."""
        if self._records is None:
            self._records = self._load_records()
        return self._records

    @property
    def status_counts(self) -> dict[str, int]:
        """Records per status: {"pass": n, "fixed": n, "fail": n}."""
        return self.summary["status_counts"]

    @property
    def code_counts(self) -> dict[str, int]:
        """Reason code -> number of records carrying it, most frequent first."""
        return self.summary["codes"]

    def to_pandas(self) -> pd.DataFrame:
        """One row per input record (columns: RECORD_COLUMNS); `prompt` holds the turns as
        {"role", "content"} dicts and `verdicts` each verdict as a dict."""
        import pandas as pd

        rows = []
        for r in self.records:
            s = r.sample
            rows.append(
                {
                    "index": r.index,
                    "id": r.id,
                    "status": r.status,
                    "codes": r.codes,
                    "system_prompt": s.system_prompt if s else None,
                    "prompt": [m.model_dump() for m in s.prompt] if s else None,
                    "completion": s.completion if s else None,
                    "verdicts": [v.model_dump(mode="json") for v in r.verdicts],
                    "shard": r.shard,
                    "line": r.line,
                }
            )
        return pd.DataFrame(rows, columns=list(RECORD_COLUMNS))

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts.items())
        return (
            f"AuditResult({self.dataset_id}: {self.summary.get('records')} records ({counts}), "
            f"{len(self.set_findings)} set findings)"
        )


def audit(
    data: Any,
    *,
    db: Store | PathLike | None = None,
    config: PathLike | ChainConfig | None = None,
    tokenizer: str | None = None,
    max_length: int | None = None,
    fmt: str = "auto",
    instruction_as_system: bool = False,
    system_prompt: str | None = None,
    skip_invalid: bool = False,
    strict_fields: bool = False,
    prompt_field: str | None = None,
    completion_field: str | None = None,
    system_field: str | None = None,
    task_field: str | None = None,
    eval_sets: Sequence[PathLike] = (),
    eval_field: str | None = None,
    against: PathLike | None = None,
    thinking: str | None = None,
    reasoning_field: str | None = None,
    split: str | None = None,
    name: str | None = None,
    fail_on: str | Sequence[str] = "block",
    report: PathLike | None = None,
    summary: PathLike | None = None,
    html: PathLike | None = None,
    progress: Callable[[int], None] | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> AuditResult:
    """Audit `data`: every record through the validator chain, plus the set-level checks.

    `data` is a path (a file of any format `synthgate audit` reads, compressed or not, a folder
    of shards, a glob, a `datasets` save_to_disk folder; or a list of them), a list of dicts, a
    pandas DataFrame or a `datasets.Dataset` (a DatasetDict: its `split`, default train).
    `db`: None (the default) audits in a store that lives only for this call; a path keeps the
    dataset in that DuckDB file; an open Store is used and left open. `config` is a chain config
    file or ChainConfig; `tokenizer` and `max_length` override its length settings. The other
    options are `synthgate audit`'s flags: `fail_on` ("block", "warn", "none" or code prefixes)
    decides `result.failed`; `report`, `summary` and `html` also write those files. `engine="ray"`
    runs the per-record half on Ray (`address`: a cluster, else a local Ray; `workers`: actors),
    with results equal to the local engine's (needs the `ray` extra; paths only).

    Raises InputError for unusable input (naming the file or data, the record and the field;
    `skip_invalid=True` reports such records as input.* findings instead), ConfigError for a bad
    config or option.

    >>> result = audit([{"prompt": "What is 2+2?", "completion": "4"}])  # doctest: +SKIP
    >>> result.status_counts  # doctest: +SKIP
    {'pass': 1, 'fixed': 0, 'fail': 0}
    """
    from synthgate.audit import report as files
    from synthgate.audit.inputs import InputSet, resolve_inputs
    from synthgate.audit.memory import memory_input
    from synthgate.audit.runner import AuditOptions
    from synthgate.audit.runner import audit as run_audit
    from synthgate.config import load_chain_config
    from synthgate.schemas.field_map import FieldNames
    from synthgate.store import Store

    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine {engine!r} is not an engine", hint="Use local or ray.")
    if engine == "local" and (address is not None or workers is not None):
        raise ConfigError("--address and --workers need --engine ray", hint="Add --engine ray.")
    chain = load_chain_config(config, tokenizer=tokenizer, max_length=max_length)
    if thinking is not None:
        chain = with_thinking_mode(chain, thinking)
    options = AuditOptions(
        fmt=fmt,
        instruction_as_system=instruction_as_system,
        system_prompt=system_prompt,
        allow_extra_fields=not strict_fields,
        fields=FieldNames(prompt=prompt_field, completion=completion_field, system=system_field),
        task_field=task_field,
        skip_invalid=skip_invalid,
        chain=chain,
        name=name,
        eval_sets=tuple(Path(p) for p in eval_sets),
        eval_field=eval_field,
        against=Path(against) if against is not None else None,
        reasoning_field=reasoning_field,
        split=split,
    )
    # An InputSet: the command resolved the paths already (to size its progress bar).
    inputs = data if isinstance(data, InputSet) else memory_input(data, split) or resolve_inputs(data, split)
    fail_spec = files.parse_fail_on(fail_on) if isinstance(fail_on, str) else list(fail_on)
    target = IN_MEMORY if db is None else db
    in_memory = not isinstance(target, Store) and str(target) == IN_MEMORY
    with using_store(target) as store:
        if engine == "ray":
            from synthgate.audit.ray_engine import RayOptions, audit_on_ray

            if not isinstance(inputs, InputSet):
                raise ConfigError("--engine ray audits files", hint="Write the records to a file first.")
            ray_options = RayOptions(address=address, workers=workers)
            ds = audit_on_ray(inputs, store, options, ray_options, progress=progress).dataset_id
        else:
            ds = run_audit(inputs, store, options, progress=progress).dataset_id
        if report is not None:
            files.write_report(store, ds, report)
        data_summary = files.write_summary(store, ds, summary) if summary else files.summary(store, ds)
        written = None
        if html is not None:
            from synthgate.report.html import write_report as write_html_report

            written = write_html_report(store, ds, html)
        # A file is named absolutely: the records may be asked for after a chdir.
        source = store if in_memory or isinstance(target, Store) else Path(target).resolve()
        result = AuditResult(
            ds,
            data_summary,
            store.datasets.findings(ds),
            files.should_fail(store, ds, fail_spec),
            written,
            lambda: _read_records(source, ds),
        )
        if in_memory:
            result.records  # noqa: B018 - read now: the in-memory store ends with this block
    return result


def _read_records(db: Store | PathLike, dataset_id: str) -> list[RecordReport]:
    # A file is opened again when the records are first asked for, so an audit whose caller wants
    # only the summary (the command) never holds every record in memory.
    with using_store(db) as store:
        return load_records(store, dataset_id)


def load_records(store: Store, dataset_id: str) -> list[RecordReport]:
    """The per-record report of a stored dataset, in input order."""
    from synthgate.audit.report import shard_path

    info = store.datasets.get(dataset_id)
    shards = [s["path"] for s in (info.summary or {}).get("shards", [])]
    samples = {row.index: row.sample for row in store.samples.iter(dataset_id)}
    verdicts: dict[int, list[Verdict]] = {}
    for index, v in store.verdicts.for_dataset(dataset_id):
        verdicts.setdefault(index, []).append(v)
    return [
        RecordReport(
            index=row.index,
            id=row.id,
            status=row.status,  # type: ignore[arg-type]
            codes=row.codes,
            verdicts=verdicts.get(row.index, []),
            sample=samples.get(row.index),
            shard=shard_path(shards, row.shard),
            line=row.line,
        )
        for row in store.report_rows(dataset_id)
    ]


def with_thinking_mode(chain: ChainConfig, mode: str) -> ChainConfig:
    """`chain` with its reasoning-block mode set (strip, keep or forbid)."""
    data = chain.model_dump()
    data["thinking"]["mode"] = mode
    try:
        return ChainConfig.model_validate(data)
    except ValidationError:
        raise ConfigError(
            f"--thinking {mode!r} is not a thinking mode", hint="Use strip, keep or forbid."
        ) from None
