"""The export contract: what an export folder holds, and the check that it is intact and gated.

A training export (format trl-jsonl) holds `train.jsonl` and `eval.jsonl` (TRL conversational
prompt/completion, one record a line) and `manifest.json` (`Manifest`): which version it is, the
gate's verdict, and the sha256 and record count of every data file, keyed by its path relative to
the folder (other formats list their parquet or arrow files the same way). The exporter writes it
with `write_manifest` and `describe_file`; training reads nothing before `verify_export` passed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthgate.errors import GateRefused, ManifestMismatch

MANIFEST_NAME = "manifest.json"
TRAIN_FILE = "train.jsonl"
EVAL_FILE = "eval.jsonl"

_FIX_HINT = "Re-export the version (synthgate export); never edit an export folder by hand."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateCheck(_Strict):
    """One gate check: what was measured against which limit."""

    name: str = Field(description="Check name, e.g. 'fail_rate' or 'leakage_rate'.")
    passed: bool = Field(description="Whether the measured value is within the limit.")
    value: Any = Field(default=None, description="The measured value.")
    limit: Any = Field(default=None, description="The policy limit the value was held against.")
    message: str = Field(default="", description="What the check found, for humans.")


class GateReport(_Strict):
    """The gate's verdict on the exported version."""

    passed: bool = Field(description="True only when every check passed.")
    policy: dict[str, Any] = Field(
        default_factory=dict,
        description="The gate policy applied (e.g. require_completion_only, max_fail_rate).",
    )
    checks: list[GateCheck] = Field(default_factory=list, description="Every check, passed or not.")


class ExportFile(_Strict):
    """Integrity record of one exported data file."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex sha256 of the file's bytes.")
    records: int = Field(ge=0, description="Number of JSON records (non-empty lines) in the file.")


class Manifest(_Strict):
    """`manifest.json` of an export folder."""

    synthgate_version: str = Field(description="synthgate version that wrote the export.")
    version_id: str = Field(description="Store version id the export was made from.")
    created_at: datetime = Field(description="When the export was written (ISO 8601).")
    gate: GateReport = Field(description="The gate's verdict and the policy behind it.")
    chain_config: dict[str, Any] = Field(description="The validator chain configuration used.")
    counts: dict[str, int] = Field(description="Record counts, e.g. total, passed, failed, train, eval.")
    tokenizer: str = Field(description="Tokenizer the lengths were measured with ('default' = embedded).")
    max_length: int = Field(gt=0, description="Token budget every exported record fits in.")
    teacher_models: list[str] = Field(description="Models that generated the data (self-distillation check).")
    files: dict[str, ExportFile] = Field(
        description="Data files of the export, by POSIX path relative to its folder (e.g. 'train.jsonl')."
    )
    # Added after the first release: optional with defaults, so older manifests still load.
    format: str = Field(
        default="trl-jsonl",
        description="Export format: trl-jsonl, parquet or hf-dataset (manifests without it are trl-jsonl).",
    )
    eval_fraction: float | None = Field(
        default=None, ge=0, lt=1, description="Share of samples held out for eval.jsonl; None: not recorded."
    )
    seed: int | None = Field(
        default=None, description="Seed of the train/eval split (a hash of seed and sample id)."
    )
    source_id: str | None = Field(
        default=None, description="Audited dataset (ds_...) or generation run (run_...) the version froze."
    )
    version_name: str | None = Field(default=None, description="Name of the exported version.")

    @property
    def requires_completion_only(self) -> bool:
        """Whether the gate policy forbids training on anything but completions."""
        return bool(self.gate.policy.get("require_completion_only", False))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def count_records(path: str | os.PathLike[str]) -> int:
    """Number of non-empty lines of a JSONL file."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def describe_file(path: str | os.PathLike[str]) -> ExportFile:
    """The manifest entry for an exported JSONL file: its sha256 and record count."""
    return ExportFile(sha256=sha256_file(path), records=count_records(path))


def write_manifest(export_dir: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write `manifest.json` into `export_dir` atomically (temp file, then rename); return its path."""
    folder = Path(export_dir)
    target = folder / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(manifest.model_dump_json(indent=2) + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_manifest(export_dir: str | os.PathLike[str]) -> Manifest:
    """Parse `manifest.json` of an export folder; ManifestMismatch when missing or invalid."""
    path = Path(export_dir) / MANIFEST_NAME
    if not Path(export_dir).is_dir():
        raise ManifestMismatch(f"{export_dir} is not an export folder (it does not exist)", hint=_FIX_HINT)
    if not path.is_file():
        raise ManifestMismatch(f"{path} is missing: the folder is not a synthgate export", hint=_FIX_HINT)
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in err.errors()
        )
        raise ManifestMismatch(f"{path} is not a valid manifest: {problems}", hint=_FIX_HINT) from None


def verify_export(export_dir: str | os.PathLike[str]) -> Manifest:
    """The export's manifest, once every listed file matches it and the gate passed.

    Raises ManifestMismatch (exit 2) when the manifest or a listed file is missing, a file's
    sha256 differs (or, for JSONL, its record count), or a listed path leaves the folder;
    GateRefused (exit 2 here: the export is unusable input for training) when the gate failed.
    """
    folder = Path(export_dir)
    manifest = read_manifest(folder)
    manifest_path = folder / MANIFEST_NAME
    for name, entry in manifest.files.items():
        # A manifest must not point a reader at files outside its folder.
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
            raise ManifestMismatch(f"{manifest_path} lists {name!r}, which is not a path inside the folder")
        path = folder.joinpath(*parts)
        if not path.is_file():
            raise ManifestMismatch(f"{path} is missing (listed in {manifest_path})", hint=_FIX_HINT)
        actual = sha256_file(path)
        if actual != entry.sha256:
            raise ManifestMismatch(
                f"{path} does not match the manifest: sha256 expected {entry.sha256}, actual {actual}; "
                "the file was changed after export",
                hint=_FIX_HINT,
            )
        records = count_records(path) if path.suffix == ".jsonl" else entry.records
        if records != entry.records:
            raise ManifestMismatch(
                f"{path} holds {records} records but the manifest says {entry.records}", hint=_FIX_HINT
            )
    if not manifest.gate.passed:
        failed = [c for c in manifest.gate.checks if not c.passed]
        detail = "; ".join(f"{c.name}: {c.message or _measured(c)}" for c in failed)
        err = GateRefused(
            f"{manifest_path}: version {manifest.version_id} failed the gate"
            + (f" ({detail})" if detail else "")
            + "; refusing to train on it",
            hint="Fix or drop the failing records, create a new version and export it again.",
        )
        err.exit_code = 2  # for training an ungated export is unusable input, not a finding
        raise err
    return manifest


def _measured(check: GateCheck) -> str:
    return f"value {json.dumps(check.value, default=str)} vs limit {json.dumps(check.limit, default=str)}"
