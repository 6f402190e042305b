"""Gated export: a version becomes training files only when the gate passes, and then all at once.

The folder is assembled in a temp directory beside `out_dir` and renamed into place at the end, so a
refused or interrupted export leaves nothing behind. Records are TRL's conversational
prompt/completion form: system and user turns in `prompt`, the assistant turn in `completion`.

>>> from synthgate.schemas.sample import Message, Sample
>>> s = Sample(system_prompt="Be brief.", prompt=[Message(role="user", content="Hi?")], completion="Hi.")
>>> record = to_record(s)
>>> record["prompt"]
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi?'}]
>>> record["completion"]
[{'role': 'assistant', 'content': 'Hi.'}]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthgate import __version__
from synthgate.errors import ConfigError, GateRefused, InputError
from synthgate.schemas.adapters import from_sample
from synthgate.schemas.chain_config import LengthConfig
from synthgate.schemas.sample import Sample
from synthgate.store import Store, VersionInfo
from synthgate.training.gate import GatePolicy, GateResult, check_gate
from synthgate.training.manifest import (
    EVAL_FILE,
    TRAIN_FILE,
    ExportFile,
    Manifest,
    describe_file,
    sha256_file,
    write_manifest,
)

FORMATS = ("trl-jsonl", "parquet", "hf-dataset")
SPLITS = ("train", "eval")
DEFAULT_SEED = 0
HF_DIR = "dataset"

_TURNS = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMA = pa.schema([("prompt", _TURNS), ("completion", _TURNS)])
_BATCH = 2_048


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the folder, the records per split, and the manifest."""

    out_dir: Path
    version_id: str
    fmt: str
    counts: dict[str, int]
    manifest: Manifest
    gate: GateResult


def export(
    store: Store,
    version_id: str,
    fmt: str,
    out_dir: str | Path,
    policy: GatePolicy | None = None,
    eval_fraction: float = 0.1,
    seed: int = DEFAULT_SEED,
) -> ExportResult:
    """Gate `version_id` and, when it passes, write it to `out_dir` as `fmt` with a manifest.

    Raises GateRefused (exit 1) naming each failed check when the gate fails, InputError when
    `out_dir` exists and is not empty, ConfigError for an unknown format or a bad eval_fraction.
    Nothing is written unless everything succeeds.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not 0 <= eval_fraction < 1:
        raise ConfigError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    out = Path(out_dir)
    _check_target(out)
    info = store.versions.get(version_id)
    result = check_gate(store, version_id, policy)
    if not result.passed:
        raise GateRefused(
            result.explain(),
            hint="Fix or drop the failing records and create a new version, or pass --gate with a policy "
            "that fits this data.",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        files, sizes = _write(store, version_id, fmt, tmp, eval_fraction, seed)
        counts = {
            "samples": info.samples,
            "train": sizes["train"],
            "eval": sizes["eval"],
            **info.member_status_counts,
            "source_records": sum(info.source_status_counts.values()),
        }
        manifest = _manifest(info, result, counts, files, fmt=fmt, eval_fraction=eval_fraction, seed=seed)
        write_manifest(tmp, manifest)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(
        out_dir=out, version_id=version_id, fmt=fmt, counts=counts, manifest=manifest, gate=result
    )


def to_record(sample: Sample) -> dict[str, Any]:
    """A sample as one TRL conversational prompt/completion record."""
    return from_sample(sample, "prompt-completion")


def is_eval(sample_id: str, eval_fraction: float, seed: int = DEFAULT_SEED) -> bool:
    """Whether a sample is held out: a hash of (seed, sample id), so copies land in the same split.

    >>> is_eval("4b10a980569f4aca", 0.0)
    False
    """
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"{out} already exists and is not an empty folder; an export never overwrites files",
            hint="Pass --out with a new folder name, or move the old export away.",
        )


def _write(
    store: Store, version_id: str, fmt: str, folder: Path, eval_fraction: float, seed: int
) -> tuple[dict[str, ExportFile], dict[str, int]]:
    """Stream the version's members into the split files of `fmt` (the files, records per split).

    Memory stays flat in the version's size: members are read FETCH_ROWS at a time and written
    _BATCH records at a time (measured: trl-jsonl at 100k samples built both splits as Python
    dicts first, 1.4 GB; see docs/incoming/mem.md). hf-dataset is written from the Parquet splits,
    which `datasets` memory-maps.
    """
    sinks = _sinks(fmt, folder)
    sizes = dict.fromkeys(SPLITS, 0)
    try:
        for sample in store.versions.iter_samples(version_id):
            split = "eval" if is_eval(sample.id, eval_fraction, seed) else "train"
            sinks[split].add(to_record(sample))
            sizes[split] += 1
    finally:
        for sink in sinks.values():
            sink.close()
    # Rows edited by hand fail here (membership) or while iterating (content): nothing is published.
    store.versions.verify(version_id, members_checked=True)
    if fmt == "hf-dataset":
        return _write_hf_dataset(folder, {split: sink.path for split, sink in sinks.items()}), sizes
    if fmt == "parquet":
        files = {
            s.path.name: ExportFile(sha256=sha256_file(s.path), records=sizes[k]) for k, s in sinks.items()
        }
        return files, sizes
    return {sink.path.name: describe_file(sink.path) for sink in sinks.values()}, sizes


class _JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("w", encoding="utf-8")

    def add(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._fh.close()


class _ParquetSink:
    """Records written _BATCH at a time as row groups of one Parquet file (SCHEMA)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, SCHEMA)
        self._rows: list[dict[str, Any]] = []
        self._written = False

    def add(self, record: dict[str, Any]) -> None:
        self._rows.append(record)
        if len(self._rows) >= _BATCH:
            self._flush()

    def close(self) -> None:
        if self._rows or not self._written:  # an empty split still gets one (empty) row group
            self._flush()
        self._writer.close()

    def _flush(self) -> None:
        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=SCHEMA))
        self._written = True
        self._rows = []


def _sinks(fmt: str, folder: Path) -> dict[str, _JsonlSink | _ParquetSink]:
    if fmt == "trl-jsonl":
        names = zip(SPLITS, (TRAIN_FILE, EVAL_FILE), strict=True)
        return {split: _JsonlSink(folder / name) for split, name in names}
    # hf-dataset: Parquet splits in a staging folder first, converted at the end.
    where = folder if fmt == "parquet" else folder / ".parquet"
    where.mkdir(exist_ok=True)
    return {split: _ParquetSink(where / f"{split}.parquet") for split in SPLITS}


def _write_hf_dataset(folder: Path, parquet: dict[str, Path]) -> dict[str, ExportFile]:
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        data = datasets.DatasetDict({split: _hf_split(path) for split, path in parquet.items()})
        # An empty split saved with zero shards cannot be loaded back; one shard keeps it loadable.
        shards = {split: max(1, -(-data[split].data.nbytes // (500 << 20))) for split in parquet}
        data.save_to_disk(str(folder / HF_DIR), num_shards=shards)
    finally:
        if bars:
            datasets.enable_progress_bars()
    shutil.rmtree(next(iter(parquet.values())).parent)
    files = {}
    for path in sorted(p for p in (folder / HF_DIR).rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        # Arrow shards hold the records; the JSON files beside them are metadata (0 records).
        records = _arrow_rows(path) if path.suffix == ".arrow" else 0
        files[rel] = ExportFile(sha256=sha256_file(path), records=records)
    return files


def _hf_split(path: Path) -> Any:
    import datasets
    from datasets.table import InMemoryTable

    if pq.ParquetFile(path).metadata.num_rows == 0:  # `datasets` cannot read an empty Parquet file
        return datasets.Dataset(InMemoryTable(SCHEMA.empty_table()))
    # Memory-mapped Arrow built in a cache inside the staging folder, not a table in RAM.
    return datasets.Dataset.from_parquet(str(path), cache_dir=str(path.parent / "cache"))


def _arrow_rows(path: Path) -> int:
    with pa.ipc.open_stream(path) as reader:
        return sum(batch.num_rows for batch in reader)


def _manifest(
    info: VersionInfo,
    result: GateResult,
    counts: dict[str, int],
    files: dict[str, ExportFile],
    *,
    fmt: str,
    eval_fraction: float,
    seed: int,
) -> Manifest:
    return Manifest(
        synthgate_version=__version__,
        version_id=info.id,
        created_at=datetime.now(UTC),
        gate=result.report(),
        chain_config=info.chain_config,
        counts=counts,
        tokenizer=info.tokenizer or "default",
        max_length=info.max_length or LengthConfig().max_length,
        teacher_models=info.teacher_models,
        files=files,
        format=fmt,
        eval_fraction=eval_fraction,
        seed=seed,
        source_id=info.source_id,
        version_name=info.name,
    )


def _publish(tmp: Path, out: Path) -> None:
    # rename(2) replaces an empty directory atomically; a non-empty one was refused up front.
    try:
        os.replace(tmp, out)
    except OSError as err:
        raise InputError(
            f"cannot move the export into {out}: {err.strerror}",
            hint="Pass --out with a new folder name on the same filesystem.",
        ) from None
