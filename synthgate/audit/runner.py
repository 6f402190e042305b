"""Audit a dataset (a file, or the shards of folders and globs): read, adapt, validate, check the
set, and store everything.

Memory stays flat in dataset size: records stream through in batches, results go to the store
as they are produced, and set-level checks keep only small per-record state.

Preference files (`prompt`/`chosen`/`rejected`) keep one stored row per record: the chosen side is
the row's sample, the rejected completion rides along in `metadata.extra["preference"]`, and both
sides' verdicts go to the record (see synthgate.validators.preference). A file is either pairs or
SFT records: in auto mode the first readable record decides, and a record of the other kind is
an `input.malformed` record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synthgate.audit.inputs import InputSet, file_sha256, resolve_inputs
from synthgate.audit.memory import MemoryInput
from synthgate.audit.readers import RawRecord, read_records
from synthgate.audit.writer import DatasetCounts, DatasetWriter
from synthgate.errors import InputError
from synthgate.schemas.adapters import PREFERENCE, RecordError, accepted_keys, to_sample, unknown_keys
from synthgate.schemas.chain_config import ChainConfig
from synthgate.schemas.field_map import FieldNames, MappedRecord, map_record
from synthgate.schemas.preference import PREFERENCE_KEYS, to_preference_samples
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Verdict
from synthgate.store import SampleRow, Store
from synthgate.validators.base import Result
from synthgate.validators.chain import Chain
from synthgate.validators.codes import verdict
from synthgate.validators.preference import PairChecker
from synthgate.validators.secrets import mask_strings
from synthgate.validators.truncation.caps import CapObserver

FORMAT_CHOICES = ("auto", "messages", "prompt-completion", "alpaca", "sharegpt", PREFERENCE)
Adapted = Sample | tuple[Sample, Sample]  # one SFT sample, or a (chosen, rejected) pair
_MAX_EXTRA_NAMES = 100  # distinct extra field names listed in the summary


@dataclass(frozen=True)
class AuditOptions:
    """How to read the input and which chain to run.

    `allow_extra_fields` (the default) keeps fields no format uses as metadata and lists them in the
    summary; False (--strict-fields) makes them an `input.unknown_field` error. `fields` names the
    prompt/completion/system fields when the common names do not fit; `task_field` the task type.
    """

    fmt: str = "auto"
    instruction_as_system: bool = False
    system_prompt: str | None = None
    allow_extra_fields: bool = True
    fields: FieldNames = field(default_factory=FieldNames)
    task_field: str | None = None
    skip_invalid: bool = False
    chain: ChainConfig = field(default_factory=ChainConfig)
    batch_size: int = 512
    name: str | None = None
    eval_sets: tuple[Path, ...] = ()
    eval_field: str | None = None
    against: Path | None = None
    reasoning_field: str | None = None
    split: str | None = None  # the split of a hub or save_to_disk folder (default: train)


def audit(
    path: str | Path | Sequence[str | Path] | InputSet | MemoryInput,
    store: Store,
    options: AuditOptions | None = None,
    *,
    chain: Chain | None = None,
    progress: Callable[[int], None] | None = None,
) -> DatasetCounts:
    """Audit `path` (files, folders, globs: one dataset; or records in memory) into `store` in one
    transaction; an interruption leaves the store as it was."""
    options = options or AuditOptions()
    check_format(options)
    inputs: InputSet | MemoryInput
    if isinstance(path, MemoryInput):
        inputs, records_in, hashes = path, path.records(), [None]
    else:
        inputs = path if isinstance(path, InputSet) else resolve_inputs(path, options.split)
        records_in = read_records(inputs)  # whole-file problems of every shard surface here, first
        hashes = [file_sha256(p) for p in inputs.shards]
    chain = chain or build_chain(options)
    adapter = Adapter(inputs, options)
    pairs = PairChecker(options.chain.preference, options.chain.severity_overrides)
    shards = [
        {"path": str(p), "sha256": h, "records": 0, "first_index": 0}
        for p, h in zip(inputs.shards, hashes, strict=True)
    ]
    caps = cap_observer(options.chain)
    with store.transaction():
        writer = open_dataset(store, inputs, hashes, options)
        observe = caps.observe if caps is not None else None
        # Two batches in flight: the next one is read, adapted and handed to the tokenizer (which
        # counts it in a thread) before the previous one is checked and stored, so the tokenizer
        # rarely waits for Python or Python for it.
        pending: Callable[[], tuple[list[SampleRow], list[tuple[int, Verdict]]]] | None = None
        for batch in in_batches(records_in, options.batch_size):
            started = start_batch(batch, adapter, options, chain, pairs, observe)
            for raw in batch:
                shards[raw.shard]["records"] += 1
                shards[raw.shard]["first_index"] = raw.first
            if pending is not None:
                _store_batch(writer, pending(), progress)
            pending = started
        if pending is not None:
            _store_batch(writer, pending(), progress)
        return finish_audit(writer, options, adapter, pairs, caps, shards, eval_set_sizes(options))


def check_format(options: AuditOptions) -> None:
    """Refuse an unknown --format before any reading."""
    if options.fmt not in FORMAT_CHOICES:
        raise InputError(f"unknown format {options.fmt!r}; choose one of {', '.join(FORMAT_CHOICES)}")


def open_dataset(
    store: Store, inputs: InputSet, hashes: list[str | None], options: AuditOptions
) -> DatasetWriter:
    """Create the dataset row and its writer (inside the caller's transaction): both engines."""
    dataset_id = store.datasets.create(
        name=options.name or inputs.name,
        source_path=inputs.source,
        source_sha256=inputs.sha256(hashes),  # type: ignore[arg-type]
        fmt=options.fmt,
        options=_options_dict(options),
        chain_config=options.chain.model_dump(mode="json"),
    )
    return DatasetWriter(store, dataset_id, options.chain)


def finish_audit(
    writer: DatasetWriter,
    options: AuditOptions,
    adapter: Adapter,
    pairs: PairChecker,
    caps: CapObserver | None,
    shards: list[dict],
    eval_sets: dict[str, int] | None = None,
) -> DatasetCounts:
    """The set level of an audit whose records are all added: generation caps, the set checks,
    the preference finding and the summary (both engines, so their results are equal)."""
    if caps is not None:
        writer.add_verdicts([(i, _override(v, options)) for i, v in caps.finish()])
    summary: dict = {"shards": shards, "read_as": dict(adapter.shapes.most_common())}
    if eval_sets:
        summary["eval_sets"] = eval_sets
    if adapter.extra_fields:
        summary["extra_fields"] = dict(adapter.extra_fields.most_common())
    if adapter.pairs:
        done = writer.finish(pairs.finish(), {**summary, "preference": pairs.stats()})
    else:
        done = writer.finish(summary=summary)
    return done


def _store_batch(
    writer: DatasetWriter,
    checked: tuple[list[SampleRow], list[tuple[int, Verdict]]],
    progress: Callable[[int], None] | None,
) -> None:
    writer.add(*checked)
    if progress:
        progress(len(checked[0]))


def audit_batch(
    batch: list[RawRecord],
    adapter: Adapter,
    options: AuditOptions,
    chain: Chain,
    pairs: PairChecker,
    observe_tokens: Callable[[int, int | None], None] | None = None,
) -> tuple[list[SampleRow], list[tuple[int, Verdict]]]:
    """The per-record half of an audit, one batch from start to finish (both engines): read
    records -> stored rows (in index order) and their verdicts. `observe_tokens(index, completion
    tokens)` collects the counts the generation-cap check needs; an unreadable record raises
    unless `options.skip_invalid`. The local engine keeps two batches in flight (`start_batch`)."""
    return start_batch(batch, adapter, options, chain, pairs, observe_tokens)()


def start_batch(
    batch: list[RawRecord],
    adapter: Adapter,
    options: AuditOptions,
    chain: Chain,
    pairs: PairChecker,
    observe_tokens: Callable[[int, int | None], None] | None = None,
) -> Callable[[], tuple[list[SampleRow], list[tuple[int, Verdict]]]]:
    """Adapt a batch and start the chain on it; the returned function finishes the batch: its
    stored rows and verdicts."""
    rows: list[SampleRow] = []
    verdicts: list[tuple[int, Verdict]] = []
    good: list[tuple[RawRecord, Adapted]] = []
    for raw in batch:
        try:
            adapted = adapter(raw)
        except InputError as err:
            if not options.skip_invalid:
                raise
            rows.append(SampleRow(raw.index, None, None, None, _raw_text(raw), raw.shard, raw.line))
            verdicts.append((raw.index, verdict("input", err.code, str(err))))
            continue
        good.append((raw, adapted))
    # Both sides of a pair go through the chain in the same batch as the single samples.
    flat = [s for _, a in good for s in (a if isinstance(a, tuple) else (a,))]
    checking = chain.start_batch(flat)
    return lambda: _finish_batch(checking(), rows, verdicts, good, pairs, observe_tokens)


def _finish_batch(
    checked: list[Result],
    rows: list[SampleRow],
    verdicts: list[tuple[int, Verdict]],
    good: list[tuple[RawRecord, Adapted]],
    pairs: PairChecker,
    observe_tokens: Callable[[int, int | None], None] | None,
) -> tuple[list[SampleRow], list[tuple[int, Verdict]]]:
    results = iter(checked)
    for raw, adapted in good:
        if isinstance(adapted, tuple):
            original, (chosen, rejected) = adapted[0], (next(results), next(results))
            found = pairs.check(chosen, rejected)
            sample = _with_rejected(chosen.sample, adapted[1], rejected)
            before = _with_rejected(original, adapted[1], rejected)
        else:
            result = next(results)
            original, found, sample, before = adapted, result.verdicts, result.sample, adapted
            if observe_tokens is not None and adapted.metadata.finish_reason is None:
                # The teacher's own count when the file has it: caps are exact there.
                observe_tokens(raw.index, adapted.metadata.completion_tokens or result.completion_tokens)
        tokens = (chosen if isinstance(adapted, tuple) else result).tokens  # a pair: the chosen side's
        input_id = original.metadata.extra.get("input_id")
        rows.append(
            SampleRow(
                raw.index,
                str(input_id) if input_id is not None else None,
                sample,
                before if sample.id != original.id else None,
                None,
                raw.shard,
                raw.line,
                tokens,
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
        from synthgate.audit.contamination_items import load_contamination_items
        from synthgate.validators.contamination import ContaminationIndex, ContaminationValidator

        items = [it for p in options.eval_sets for it in load_contamination_items(p, options.eval_field)]
        index = ContaminationIndex.from_config(items, options.chain.contamination)
        extra.append(ContaminationValidator(index, options.chain.contamination))
    if options.against is not None:
        from synthgate.validators.contamination import SplitIndex, SplitOverlapValidator

        # A hub folder's split is named with a glob here: --split picks the audited data's split.
        against = resolve_inputs(options.against, default_split=None)
        adapt = Adapter(against, options)
        other = [(raw.index, _chosen(adapt(raw))) for raw in read_records(against)]
        extra.append(SplitOverlapValidator(SplitIndex.build(other, against.source)))
    return Chain(options.chain, extra=extra)


def eval_set_sizes(options: AuditOptions) -> dict[str, int]:
    """Items per eval file the contamination check looks for (the report's per-file table); read
    from the files, so the Ray driver, which builds no chain, gets the local engine's figures."""
    sizes: dict[str, int] = {}
    if options.eval_sets:
        from synthgate.audit.contamination_items import load_contamination_items

        for path in options.eval_sets:
            for item in load_contamination_items(path, options.eval_field):
                sizes[item.source] = sizes.get(item.source, 0) + 1
    return sizes


def _chosen(adapted: Adapted) -> Sample:
    return adapted[0] if isinstance(adapted, tuple) else adapted


class Adapter:
    """Raw records -> samples or pairs; `pairs` says which kind the file holds once known (the
    first record that maps decides; `decide_kind` finds it ahead for an engine reading blocks)."""

    def __init__(self, inputs: InputSet | MemoryInput, options: AuditOptions) -> None:
        self.inputs = inputs
        self.options = options
        self.pairs: bool | None = None if options.fmt == "auto" else options.fmt == PREFERENCE
        # Per file: which shape each record was read as, and the fields kept as metadata.
        self.shapes: Counter[str] = Counter()
        self.extra_fields: Counter[str] = Counter()

    def __call__(self, raw: RawRecord) -> Adapted:
        if raw.error is not None:
            raise raw.error
        assert raw.data is not None
        mapped: MappedRecord | None = None
        try:
            mapped = self._map(raw.data)
            return self._adapt(mapped)
        except RecordError as err:
            if raw.line is not None:
                where = f" (line {raw.line})"
            else:  # several shards: "record N" counts over all of them, so name the file's row too
                where = f" (row {raw.row} of the file)" if len(self.inputs.shards) > 1 else ""
            field = mapped.original_field(err.field) if mapped is not None else err.field
            raise InputError(
                err.message + where,
                path=str(self.inputs.shards[raw.shard]),
                record=raw.index,
                field=field,
                code=err.code,
                hint="Fix the record, or pass --skip-invalid to report it and audit the rest.",
            ) from None

    def _map(self, data: dict) -> MappedRecord:
        o = self.options
        if o.fmt == "auto" or o.fields.given():
            return map_record(data, o.fields)
        return MappedRecord(o.fmt, data, o.fmt)

    def _adapt(self, mapped: MappedRecord) -> Adapted:
        o = self.options
        record, fmt = mapped.record, mapped.fmt
        is_pair = fmt == PREFERENCE
        if self.pairs is None:
            self.pairs = is_pair
        elif is_pair != self.pairs:
            kinds = ("an SFT record", "preference pairs") if self.pairs else ("a preference pair", "SFT")
            msg = f"the record is {kinds[0]} but the file's first record was {kinds[1]}; audit them apart"
            raise RecordError("input.malformed", msg)
        if is_pair:
            adapted: Adapted = to_preference_samples(
                record,
                system_prompt=o.system_prompt,
                allow_extra_fields=o.allow_extra_fields,
                reasoning_field=o.reasoning_field,
                task_field=o.task_field,
            )
        else:
            adapted = to_sample(
                record,
                fmt,
                instruction_as_system=o.instruction_as_system,
                system_prompt=o.system_prompt,
                allow_extra_fields=o.allow_extra_fields,
                reasoning_field=o.reasoning_field,
                task_field=o.task_field,
            )
        accepted = PREFERENCE_KEYS if is_pair else accepted_keys(fmt)
        rec = {k: v for k, v in record.items() if v is not None}
        self.count(mapped.shape, unknown_keys(rec, accepted, fmt, True, o.reasoning_field, o.task_field))
        return adapted

    def count(self, shape: str, extra_names: Iterable[str]) -> None:
        """Count one adapted record's shape and the extra field names it kept, in input order."""
        self.shapes[shape] += 1
        for name in extra_names:
            # Bounded, so records with ever-new keys cannot grow it: later names count as one.
            known = name in self.extra_fields or len(self.extra_fields) < _MAX_EXTRA_NAMES
            self.extra_fields[name if known else "(other fields)"] += 1

    def decide_kind(self, records: Iterable[RawRecord]) -> None:
        """Settle `pairs` as reading `records` in order would: the first record that maps decides."""
        if self.pairs is not None:
            return
        for raw in records:
            if raw.data is None:
                continue
            try:
                self.pairs = self._map(raw.data).fmt == PREFERENCE
            except RecordError:
                continue
            return


def _override(v: Verdict, options: AuditOptions) -> Verdict:
    from synthgate.validators.chain import apply_severity

    return apply_severity(v, options.chain.severity_overrides)


def cap_observer(config: ChainConfig) -> CapObserver | None:
    """The generation-cap check's observer, when the chain runs it: completions at a generation cap
    many records share (needs the whole set, like set checks)."""
    if not (config.set_checks and "truncation" in config.order):
        return None
    return CapObserver(config.truncation, max_length=config.length.max_length)


def in_batches(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    """Records in lists of `size` (the last may be shorter)."""
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

        # Masked before the cut: a key cut in half at the limit would no longer be found.
        return json.dumps(mask_strings(raw.data), ensure_ascii=False, default=str)[:2000]
    return None


def _options_dict(options: AuditOptions) -> dict:
    return {
        "fmt": options.fmt,
        "instruction_as_system": options.instruction_as_system,
        "system_prompt": options.system_prompt,
        "allow_extra_fields": options.allow_extra_fields,
        "fields": {k: v for k, v in vars(options.fields).items() if v},
        "task_field": options.task_field,
        "skip_invalid": options.skip_invalid,
        "eval_sets": [str(p) for p in options.eval_sets],
        "eval_field": options.eval_field,
        "against": str(options.against) if options.against else None,
        "reasoning_field": options.reasoning_field,
        "split": options.split,
    }
