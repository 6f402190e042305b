"""Audit a dataset file: read, adapt, validate, check the set, and store everything.

Memory stays flat in dataset size: records stream through in batches, results go to the store
as they are produced, and set-level checks keep only small per-record state.

Preference files (`prompt`/`chosen`/`rejected`) keep one stored row per record: the chosen side is
the row's sample, the rejected completion rides along in `metadata.extra["preference"]`, and both
sides' verdicts go to the record (see synthgate.validators.preference). A file is either pairs or
SFT records: in auto mode the first readable record decides, and a record of the other kind is
an `input.malformed` record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from synthgate.audit.readers import RawRecord, read_records
from synthgate.audit.writer import DatasetWriter
from synthgate.errors import InputError
from synthgate.schemas.adapters import PREFERENCE, RecordError, detect_format, to_sample
from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.preference import to_preference_samples
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import SetFinding, Verdict
from synthgate.store import SampleRow, Store
from synthgate.validators.base import Result
from synthgate.validators.chain import Chain
from synthgate.validators.codes import verdict
from synthgate.validators.preference import PairChecker

FORMAT_CHOICES = ("auto", "messages", "prompt-completion", "alpaca", "sharegpt", PREFERENCE)
Adapted = Sample | tuple[Sample, Sample]  # one SFT sample, or a (chosen, rejected) pair


@dataclass(frozen=True)
class AuditOptions:
    """How to read the input and which chain to run."""

    fmt: str = "auto"
    instruction_as_system: bool = False
    system_prompt: str | None = None
    allow_extra_fields: bool = False
    skip_invalid: bool = False
    chain: ChainConfig = field(default_factory=ChainConfig)
    batch_size: int = 512
    name: str | None = None
    eval_sets: tuple[Path, ...] = ()
    eval_field: str | None = None
    against: Path | None = None
    reasoning_field: str | None = None


@dataclass(frozen=True)
class AuditResult:
    dataset_id: str
    records: int
    status_counts: dict[str, int]
    code_counts: dict[str, int]
    set_findings: list[SetFinding]


def audit(
    path: str | Path,
    store: Store,
    options: AuditOptions | None = None,
    *,
    chain: Chain | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditResult:
    """Audit `path` into `store` in one transaction; an interruption leaves the store as it was."""
    options = options or AuditOptions()
    path = Path(path)
    if options.fmt not in FORMAT_CHOICES:
        raise InputError(f"unknown format {options.fmt!r}; choose one of {', '.join(FORMAT_CHOICES)}")
    chain = chain or build_chain(options)
    adapter = _Adapter(path, options)
    pairs = PairChecker(options.chain.preference, options.chain.severity_overrides)
    with store.transaction():
        dataset_id = store.datasets.create(
            name=options.name or path.name,
            source_path=str(path),
            source_sha256=file_sha256(path),
            fmt=options.fmt,
            options=_options_dict(options),
            chain_config=options.chain.model_dump(mode="json"),
        )
        writer = DatasetWriter(store, dataset_id, options.chain)
        for batch in _batches(read_records(path), options.batch_size):
            rows, verdicts = _audit_batch(batch, adapter, options, chain, pairs)
            writer.add(rows, verdicts)
            if progress:
                progress(len(rows))
        if adapter.pairs:
            done = writer.finish(pairs.finish(), {"preference": pairs.stats()})
        else:
            done = writer.finish()
    return AuditResult(dataset_id, done.records, done.status_counts, done.code_counts, done.set_findings)


def _audit_batch(
    batch: list[RawRecord], adapter: _Adapter, options: AuditOptions, chain: Chain, pairs: PairChecker
) -> tuple[list[SampleRow], list[tuple[int, Verdict]]]:
    rows: list[SampleRow] = []
    verdicts: list[tuple[int, Verdict]] = []
    good: list[tuple[RawRecord, Adapted]] = []
    for raw in batch:
        try:
            adapted = adapter(raw)
        except InputError as err:
            if not options.skip_invalid:
                raise
            rows.append(SampleRow(raw.index, None, None, None, _raw_text(raw)))
            verdicts.append((raw.index, verdict("input", err.code, str(err))))
            continue
        good.append((raw, adapted))
    # Both sides of a pair go through the chain in the same batch as the single samples.
    flat = [s for _, a in good for s in (a if isinstance(a, tuple) else (a,))]
    results = iter(chain.run_batch(flat))
    for raw, adapted in good:
        if isinstance(adapted, tuple):
            original, (chosen, rejected) = adapted[0], (next(results), next(results))
            found = pairs.check(chosen, rejected)
            sample = _with_rejected(chosen.sample, adapted[1], rejected)
            before = _with_rejected(original, adapted[1], rejected)
        else:
            result = next(results)
            original, found, sample, before = adapted, result.verdicts, result.sample, adapted
        input_id = original.metadata.extra.get("input_id")
        rows.append(
            SampleRow(
                raw.index,
                str(input_id) if input_id is not None else None,
                sample,
                before if sample.id != original.id else None,
                None,
            )
        )
        verdicts.extend((raw.index, v) for v in found)
    rows.sort(key=lambda r: r.index)
    return rows, verdicts


def _with_rejected(chosen: Sample, rejected: Sample, result: Result) -> Sample:
    """The chosen sample carrying the rejected side (as read, and as repaired when it changed)."""
    side = {"rejected": rejected.completion}
    if result.sample.completion != rejected.completion:
        side["rejected_repaired"] = result.sample.completion
    if rejected.reasoning is not None:
        side["rejected_reasoning"] = rejected.reasoning
    extra = {**chosen.metadata.extra, "preference": side}
    return chosen.model_copy(update={"metadata": chosen.metadata.model_copy(update={"extra": extra})})


def build_chain(options: AuditOptions) -> Chain:
    """The configured chain plus the index-holding checks the options ask for (eval sets, split)."""
    extra = []
    if options.eval_sets:
        from synthgate.audit.eval_sets import load_eval_items
        from synthgate.validators.contamination import ContaminationIndex, ContaminationValidator

        items = [it for p in options.eval_sets for it in load_eval_items(p, options.eval_field)]
        index = ContaminationIndex.from_config(items, options.chain.contamination)
        extra.append(ContaminationValidator(index, options.chain.contamination))
    if options.against is not None:
        from synthgate.validators.contamination import SplitIndex, SplitOverlapValidator

        adapt = _Adapter(options.against, options)
        other = [(raw.index, _chosen(adapt(raw))) for raw in read_records(options.against)]
        extra.append(SplitOverlapValidator(SplitIndex.build(other, options.against)))
    return Chain(options.chain, extra=extra)


def _chosen(adapted: Adapted) -> Sample:
    return adapted[0] if isinstance(adapted, tuple) else adapted


class _Adapter:
    """Raw records -> samples or pairs; `pairs` says which kind the file holds once known."""

    def __init__(self, path: Path, options: AuditOptions) -> None:
        self.path = path
        self.options = options
        self.pairs: bool | None = None if options.fmt == "auto" else options.fmt == PREFERENCE

    def __call__(self, raw: RawRecord) -> Adapted:
        if raw.error is not None:
            raise raw.error
        assert raw.data is not None
        o = self.options
        try:
            fmt = detect_format(raw.data) if o.fmt == "auto" else o.fmt
            is_pair = fmt == PREFERENCE
            if self.pairs is None:
                self.pairs = is_pair
            elif is_pair != self.pairs:
                kinds = ("an SFT record", "preference pairs") if self.pairs else ("a preference pair", "SFT")
                msg = f"the record is {kinds[0]} but the file's first record was {kinds[1]}; audit them apart"
                raise RecordError("input.malformed", msg)
            if is_pair:
                return to_preference_samples(
                    raw.data,
                    system_prompt=o.system_prompt,
                    allow_extra_fields=o.allow_extra_fields,
                    reasoning_field=o.reasoning_field,
                )
            return to_sample(
                raw.data,
                fmt,
                instruction_as_system=o.instruction_as_system,
                system_prompt=o.system_prompt,
                allow_extra_fields=o.allow_extra_fields,
                reasoning_field=o.reasoning_field,
            )
        except RecordError as err:
            line = f" (line {raw.line})" if raw.line is not None else ""
            raise InputError(
                err.message + line,
                path=str(self.path),
                record=raw.index,
                field=err.field,
                code=err.code,
                hint="Fix the record, or pass --skip-invalid to report it and audit the rest.",
            ) from None


def _batches(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _raw_text(raw: RawRecord) -> str | None:
    if raw.data is not None:
        import json

        return json.dumps(raw.data, ensure_ascii=False, default=str)[:2000]
    return None


def _options_dict(options: AuditOptions) -> dict:
    return {
        "fmt": options.fmt,
        "instruction_as_system": options.instruction_as_system,
        "system_prompt": options.system_prompt,
        "allow_extra_fields": options.allow_extra_fields,
        "skip_invalid": options.skip_invalid,
        "eval_sets": [str(p) for p in options.eval_sets],
        "eval_field": options.eval_field,
        "against": str(options.against) if options.against else None,
        "reasoning_field": options.reasoning_field,
    }


def file_sha256(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files in name order (a datasets save_to_disk folder)."""
    if not path.exists():
        return None
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode())
        with p.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
