"""`synthgate audit --engine ray`: the same audit spread over the cores of a Ray cluster (or of this
machine), with the report, summary and store contents the single-process audit gives.

Three phases:

1. Per record, on Ray. The input is cut into blocks (synthgate.audit.blocks: JSONL byte ranges,
   Parquet row groups, one block per file of other kinds) and a first cheap pass numbers them, so
   every block knows the index of its first record. Ray Data then maps the blocks over an actor
   pool: each actor builds the validator chain once (tokenizer and eval-set indexes loaded once per
   actor, tokenizer threads held to one so actors do not oversubscribe cores) and runs
   `runner.audit_batch` - the local engine's own per-record function - over its blocks. A block
   writes one Parquet shard: per record its input index, the stored row and verdicts (pickled:
   the exact objects the local engine stores), the shape it was read as, the extra field names it
   kept and its completion token count.
2. Set level, on the driver. Blocks finish in any order; the driver takes each shard in input-index
   order and feeds it to the local engine's own set-level code (`DatasetWriter`: the set checker;
   the generation-cap observer; the adapter's counters; the preference checker's counts), so every
   duplicate, near duplicate, first occurrence, tie-break and fuzzy score is the local engine's.
3. One writer. The driver alone writes DuckDB, in one transaction, in index order, and
   `runner.finish_audit` writes the summary; an interrupted audit leaves the store as it was.

The driver's share (phase 2 and 3: set checks, masking and inserts) is serial; it overlaps the
actors' work, since the driver takes each block as soon as every block before it is done.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from synthgate.audit.blocks import JSONL, Block, count_block, number_blocks, plan_blocks, read_block
from synthgate.audit.inputs import InputSet, file_sha256, resolve_inputs
from synthgate.audit.readers import RawRecord, empty_file_error, read_records
from synthgate.audit.runner import (
    Adapted,
    Adapter,
    AuditOptions,
    audit_batch,
    build_chain,
    cap_observer,
    check_format,
    eval_set_sizes,
    finish_audit,
    in_batches,
    open_dataset,
)
from synthgate.audit.writer import DatasetCounts
from synthgate.errors import ConfigError, InputError
from synthgate.store import Store
from synthgate.validators.preference import PairChecker

# Each actor holds one CPU: the tokenizer's own thread pool would otherwise take every core.
_ONE_THREAD = {"TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": "1", "RAYON_RS_NUM_CPUS": "1"}
_log = logging.getLogger(__name__)
_COLUMNS = ("idx", "row", "verdicts", "shape", "extra", "tokens")


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray audit runs.

    `address`: None starts a local Ray on this machine's cores (stopped at the end); "auto" joins
    the cluster `ray start --head` started here; "ray://HOST:PORT" a remote one. `workers`: actors
    (one CPU each; default: the cluster's CPUs). `block_bytes` / `block_rows`: the size of a JSONL
    block and of a Parquet block. `work_dir`: where blocks write their shards (a folder every node
    and the driver can read on a multi-node cluster; default: a temporary folder here).
    """

    address: str | None = None
    workers: int | None = None
    block_bytes: int = 16 << 20
    block_rows: int = 32_768
    work_dir: Path | None = None


def audit_on_ray(
    path: str | Path | Sequence[str | Path] | InputSet,
    store: Store,
    options: AuditOptions | None = None,
    ray_options: RayOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> DatasetCounts:
    """Audit `path` into `store` on Ray: the same result as `runner.audit`, in one transaction."""
    options = options or AuditOptions()
    ray_options = ray_options or RayOptions()
    check_format(options)
    inputs = path if isinstance(path, InputSet) else resolve_inputs(path, options.split)
    adapter = Adapter(inputs, options)
    # Whole-file problems surface here first, as in the local engine; then the first record that
    # maps decides whether the set is pairs, so every block adapts its records the same way.
    adapter.decide_kind(read_records(inputs))
    ray = _import_ray()
    started = _connect(ray, ray_options)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        workers = ray_options.workers or max(1, cpus)
        if workers > cpus:  # the actor pool would wait for CPUs that never come
            raise ConfigError(
                f"--workers {workers} but the Ray cluster has {cpus} CPUs",
                hint="Pass --workers at most the cluster's CPUs, or add nodes (ray start --address ...).",
            )
        blocks = plan_blocks(inputs, ray_options.block_bytes, ray_options.block_rows)
        count = ray.remote(count_block)
        sha = ray.remote(file_sha256)
        # Tasks run in another folder: they get absolute paths (actors move to the driver's folder,
        # so that the paths in their messages read as the local engine's do).
        anywhere = replace(inputs, shards=tuple(p.absolute() for p in inputs.shards))
        hash_refs = [sha.remote(p) for p in anywhere.shards]
        blocks = number_blocks(blocks, ray.get([count.remote(anywhere, b) for b in blocks]))
        hashes = ray.get(hash_refs)
        shards = _shard_summary(inputs, blocks, hashes)
        work = Path(tempfile.mkdtemp(prefix="synthgate-ray-", dir=ray_options.work_dir))
        try:
            ds = _phase_one(ray, inputs, options, adapter.pairs, blocks, workers, work)
            return _set_level(ds, store, inputs, hashes, options, adapter, blocks, shards, progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if started:
            ray.shutdown()


class BlockAuditor:
    """A Ray Data actor: builds the chain once, then audits whole blocks into Parquet shards."""

    def __init__(
        self, inputs: InputSet, options: AuditOptions, pairs: bool | None, work: str, cwd: str
    ) -> None:
        os.environ.update(_ONE_THREAD)  # before the tokenizer's first use starts its thread pool
        if Path(cwd).is_dir():  # relative paths (inputs, eval sets, tokenizer) mean the driver's
            os.chdir(cwd)
        self.inputs, self.options, self.pairs, self.work = inputs, options, pairs, Path(work)
        self.chain = build_chain(options)
        self.caps = cap_observer(options.chain) is not None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"number": [], "path": [], "records": [], "error": [], "pairs": [], "cpu": []}
        for spec in batch["block"]:
            block: Block = pickle.loads(spec)
            cpu = time.process_time()
            path, records, error, pairs = self.audit_block(block)
            out["cpu"].append(time.process_time() - cpu)
            out["number"].append(block.number)
            out["path"].append(path)
            out["records"].append(records)
            out["error"].append(error)
            out["pairs"].append(pairs)
        return out

    def audit_block(self, block: Block) -> tuple[str, int, bytes, str]:
        """(shard path, records, pickled error or b"", the preference checker's counts as JSON)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        options = self.options
        adapter = _RecordingAdapter(self.inputs, options)
        adapter.pairs = self.pairs
        pairs = PairChecker(options.chain.preference, options.chain.severity_overrides)
        tokens: dict[int, int | None] = {}
        cols: dict[str, list] = {name: [] for name in _COLUMNS}
        error = b""
        try:
            for batch in in_batches(read_block(self.inputs, block), options.batch_size):
                observe = tokens.__setitem__ if self.caps else None
                rows, verdicts = audit_batch(batch, adapter, options, self.chain, pairs, observe)
                by_record: dict[int, list] = {}
                for i, v in verdicts:
                    by_record.setdefault(i, []).append(v)
                for row in rows:
                    shape, extra = adapter.counted.get(row.index, (None, []))
                    cols["idx"].append(row.index)
                    cols["row"].append(pickle.dumps(row))
                    cols["verdicts"].append(pickle.dumps(by_record.get(row.index, [])))
                    cols["shape"].append(shape)
                    cols["extra"].append(extra)
                    cols["tokens"].append(tokens.get(row.index))
                adapter.counted.clear()
        except InputError as err:  # raised by the driver when it reaches this block, in index order
            error = pickle.dumps((err.detail, err.path, err.record, err.field, err.code, err.hint))
        table = pa.table(
            {
                "idx": pa.array(cols["idx"], pa.int64()),
                "row": pa.array(cols["row"], pa.binary()),
                "verdicts": pa.array(cols["verdicts"], pa.binary()),
                "shape": pa.array(cols["shape"], pa.string()),
                "extra": pa.array(cols["extra"], pa.list_(pa.string())),
                "tokens": pa.array(cols["tokens"], pa.int64()),
            }
        )
        path = self.work / f"block-{block.number:06d}.parquet"
        pq.write_table(table, path)
        return str(path), len(cols["idx"]), error, json.dumps(pairs.stats())


class _RecordingAdapter(Adapter):
    """An Adapter that keeps each record's counts for the driver to count in input order."""

    def __init__(self, inputs: InputSet, options: AuditOptions) -> None:
        super().__init__(inputs, options)
        self.counted: dict[int, tuple[str, list[str]]] = {}
        self._index = -1

    def __call__(self, raw: RawRecord) -> Adapted:
        self._index = raw.index
        return super().__call__(raw)

    def count(self, shape: str, extra_names: Any) -> None:
        self.counted[self._index] = (shape, list(extra_names))


def _phase_one(
    ray: Any,
    inputs: InputSet,
    options: AuditOptions,
    pairs: bool | None,
    blocks: list[Block],
    workers: int,
    work: Path,
) -> Any:
    from ray.data import ActorPoolStrategy, DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI draws its own bar
    items = [{"block": pickle.dumps(b)} for b in blocks]
    return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        BlockAuditor,
        fn_constructor_kwargs={
            "inputs": inputs,
            "options": options,
            "pairs": pairs,
            "work": str(work.resolve()),
            "cwd": os.getcwd(),
        },
        batch_size=1,
        compute=ActorPoolStrategy(size=min(workers, len(blocks))),
        num_cpus=1,
    )


def _set_level(
    ds: Any,
    store: Store,
    inputs: InputSet,
    hashes: list[str | None],
    options: AuditOptions,
    adapter: Adapter,
    blocks: list[Block],
    shards: list[dict],
    progress: Callable[[int], None] | None,
) -> DatasetCounts:
    import pyarrow.parquet as pq

    pairs = PairChecker(options.chain.preference, options.chain.severity_overrides)
    caps = cap_observer(options.chain)
    actors_cpu, driver_cpu, driver_thread = 0.0, time.process_time(), time.thread_time()
    with store.transaction():
        writer = open_dataset(store, inputs, hashes, options)
        done: dict[int, dict] = {}
        following = 0  # the next block in input order
        for out in ds.iter_rows():
            done[int(out["number"])] = out
            while following in done:
                block = done.pop(following)
                if block["error"]:
                    detail, path, record, field, code, hint = pickle.loads(block["error"])
                    raise InputError(detail, path=path, record=record, field=field, code=code, hint=hint)
                for part in pq.ParquetFile(block["path"]).iter_batches(batch_size=options.batch_size):
                    rows, verdicts = [], []
                    for idx, row, found, shape, extra, tokens in zip(
                        *(part.column(c).to_pylist() for c in _COLUMNS), strict=True
                    ):
                        if shape is not None:
                            adapter.count(shape, extra)
                        if caps is not None:
                            caps.observe(idx, tokens)
                        rows.append(pickle.loads(row))
                        verdicts.extend((idx, v) for v in pickle.loads(found))
                    writer.add(rows, verdicts)
                    if progress:
                        progress(len(rows))
                pairs.merge(json.loads(block["pairs"]))
                following += 1
                actors_cpu += float(block["cpu"])
        if following != len(blocks):
            raise RuntimeError(f"Ray returned {following} of {len(blocks)} blocks in order")
        result = finish_audit(writer, options, adapter, pairs, caps, shards, eval_set_sizes(options))
    # What a user sizing a cluster needs: the actors' CPU per record (chain build excluded) and the
    # driver's serial work (this thread: set checks, masking, inserts), which bounds the speed-up any
    # number of actors can give; the driver process's CPU adds Ray's own threads (scheduling, RPC).
    _log.info(
        "ray audit: %d records in %d blocks; actors' CPU %.2f s; driver thread's CPU %.2f s "
        "(driver process %.2f s)",
        result.records,
        len(blocks),
        actors_cpu,
        time.thread_time() - driver_thread,
        time.process_time() - driver_cpu,
    )
    return result


def _shard_summary(inputs: InputSet, blocks: list[Block], hashes: list[str | None]) -> list[dict]:
    """The summary's `shards` as the local engine writes it; a JSONL shard of blank lines is empty."""
    records = [0] * len(inputs.shards)
    first = [0] * len(inputs.shards)
    kinds: dict[int, set[str]] = {}
    for b in blocks:
        records[b.shard] += b.records or 0
        first[b.shard] = b.shard_first
        kinds.setdefault(b.shard, set()).add(b.kind)
    for n, path in enumerate(inputs.shards):
        if records[n] == 0 and kinds.get(n) == {JSONL}:
            raise empty_file_error(path)
    return [
        {"path": str(p), "sha256": h, "records": records[n], "first_index": first[n]}
        for n, (p, h) in enumerate(zip(inputs.shards, hashes, strict=True))
    ]


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the `ray[data]` part of the extra
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray, which is not installed",
            hint="pip install 'synthgate[ray]' (or: pip install 'ray[data]')",
        ) from None
    return ray


def _connect(ray: Any, ray_options: RayOptions) -> bool:
    """Join the given cluster, or start a local Ray; True when this call started it (and stops it)."""
    if ray.is_initialized():
        return False
    if ray_options.address is not None:
        ray.init(address=ray_options.address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(
            num_cpus=ray_options.workers or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    return True
