"""The `versions` and `version_samples` tables: immutable, content-addressed training sets.

A version copies the members it selects from an audited source (the repaired samples whose
derived status is in `include`) together with their status and codes, so nothing done to the source
later can change it. Its id hashes the sorted member sample ids, the chain config and the length
budget: identical content gives the same id, any change a new one. There is no update or delete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from synthgate.errors import ConfigError, InputError, StoreError
from synthgate.schemas.sample import Sample
from synthgate.store._common import as_utc, dumps, loads, reject_secrets, utcnow
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.generations import KIND as GENERATE_KIND
from synthgate.store.generations import RUN_MEMBERS_SQL, Generations
from synthgate.store.runs import Runs
from synthgate.store.verdicts import _RECORD_STATUS, STATUSES, Verdicts

LIST_COMMAND = "synthgate version list"
DEFAULT_INCLUDE = ("pass", "fixed")

_COLUMNS = (
    "id, name, parent_id, source_id, source_kind, include, chain_config, tokenizer, max_length, samples, "
    "source_status_counts, member_status_counts, source_code_counts, source_findings, teacher_models, "
    "created_at"
)
_MEMBER_COLUMNS = (
    "source_index, sample_id, prompt_key, status, codes, fail_codes, system_prompt, prompt, completion, "
    "reasoning, task_type, metadata"
)
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
class VersionInfo:
    """One stored version and its lineage.

    `reused` is True only on the value `create()` returns when identical content was already
    versioned: that version is returned unchanged (its name and parent are the first creator's).
    """

    id: str
    name: str
    parent_id: str | None
    source_id: str
    source_kind: str
    include: tuple[str, ...]
    chain_config: dict[str, Any]
    tokenizer: str | None
    max_length: int | None
    samples: int
    source_status_counts: dict[str, int]
    member_status_counts: dict[str, int]
    source_code_counts: dict[str, int]
    source_findings: list[dict[str, Any]]
    teacher_models: list[str]
    created_at: datetime
    reused: bool = False

    @property
    def source_pass_rate(self) -> float | None:
        """Share of the source's records that are pass or fixed (None for an empty source)."""
        total = sum(self.source_status_counts.values())
        if not total:
            return None
        return (self.source_status_counts.get("pass", 0) + self.source_status_counts.get("fixed", 0)) / total


@dataclass(frozen=True)
class VersionMember:
    """One member as frozen in a version: the repaired sample, its status and codes at creation.

    `fail_codes` are the codes of the member's `fail` verdicts (any severity); `codes` also holds
    repairs (`fixed`), such as `think.stripped`.
    """

    source_index: int
    sample: Sample
    prompt_key: str
    status: str
    codes: list[str]
    fail_codes: list[str]


@dataclass(frozen=True)
class VersionDiff:
    """What changed from version `a` to version `b`.

    `changed` pairs (sample id in a, sample id in b) with the same prompt key (system prompt and
    prompt turns) but different content; `added`/`removed` are the other sample ids only in b / a.
    `code_deltas` maps code -> (records in a's source, in b's source, b - a).
    """

    a: str
    b: str
    added: list[str]
    removed: list[str]
    changed: list[tuple[str, str]]
    pass_rate_a: float | None
    pass_rate_b: float | None
    code_deltas: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def pass_rate_delta(self) -> float | None:
        if self.pass_rate_a is None or self.pass_rate_b is None:
            return None
        return self.pass_rate_b - self.pass_rate_a


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


class Versions:
    """Create and read versions; nothing here (or anywhere) alters one once created."""

    def __init__(self, con: Connection, datasets: Datasets, verdicts: Verdicts) -> None:
        self._con = con
        self._datasets = datasets
        self._verdicts = verdicts
        # Source id prefix -> loader.
        self._sources: dict[str, Callable[[str], _Source]] = {
            "ds_": self._dataset_source,
            "run_": self._run_source,
        }

    def create(
        self,
        name: str,
        source_id: str,
        include: Sequence[str] = DEFAULT_INCLUDE,
        parent: str | None = None,
    ) -> VersionInfo:
        """Freeze the source's samples whose status is in `include` as a version.

        Idempotent: when a version with identical content exists it is returned with
        `reused=True` and nothing is written. The parent is `parent` (must exist), else the newest
        version with the same name. Raises NotFound for an unknown source or parent, ConfigError for
        a bad `include`, InputError for a source id of an unknown kind or an unfinished audit.
        """
        include = _check_include(include)
        if not name.strip():
            raise ConfigError("a version needs a non-empty name")
        with self._con.transaction():
            source = self._source(source_id)
            length = source.chain_config.get("length") or {}
            tokenizer, max_length = length.get("tokenizer"), length.get("max_length")
            where, params = _members_where(source, include)
            ids = (r[0] for r in self._con.stream(f"SELECT sample_id {where} ORDER BY sample_id", params))
            version_id = version_hash(ids, source.chain_config, tokenizer, max_length)
            if self._exists(version_id):
                return _replace_reused(self.get(version_id))
            if parent is not None:
                self.require(parent)
            else:
                parent = self._newest_named(name)
            self._con.execute(
                f"INSERT INTO version_samples (version_id, {_MEMBER_COLUMNS}) "
                f"SELECT ?, {_MEMBER_COLUMNS} {where}",
                [version_id, *params],
            )
            self._insert_version(version_id, name, parent, source, include, tokenizer, max_length)
            return self.get(version_id)

    def get(self, version_id: str) -> VersionInfo:
        """The version with this id; NotFound (naming how to list ids) when absent."""
        row = self._con.fetchone(f"SELECT {_COLUMNS} FROM versions WHERE id = ?", [version_id])
        if row is None:
            self.require(version_id)
        assert row is not None
        return _info(row)

    def list(self) -> list[VersionInfo]:
        """All versions, newest first."""
        rows = self._con.fetchall(f"SELECT {_COLUMNS} FROM versions ORDER BY created_at DESC, seq DESC")
        return [_info(r) for r in rows]

    def iter_members(self, version_id: str) -> Iterator[VersionMember]:
        """The version's members in source order, streamed.

        Each member's content is re-hashed against its stored sample id: a row altered outside
        synthgate raises StoreError instead of reaching a training run.
        """
        self.require(version_id)
        sql = f"SELECT {_MEMBER_COLUMNS} FROM version_samples WHERE version_id = ? ORDER BY source_index"
        for row in self._con.stream(sql, [version_id]):
            yield _member(version_id, row)

    def iter_samples(self, version_id: str) -> Iterator[Sample]:
        """The version's samples (after repairs) in source order, streamed."""
        for member in self.iter_members(version_id):
            yield member.sample

    def fail_code_counts(self, version_id: str) -> dict[str, int]:
        """code -> members carrying a `fail` verdict with it, most frequent first."""
        self.require(version_id)
        rows = self._con.fetchall(
            "SELECT code, count(*) AS n FROM (SELECT unnest(fail_codes) AS code FROM version_samples "
            "WHERE version_id = ?) GROUP BY code ORDER BY n DESC, code",
            [version_id],
        )
        return {code: int(n) for code, n in rows}

    def verify(self, version_id: str, sample_ids: Iterable[str] | None = None) -> None:
        """Raise StoreError unless the stored members and settings still hash to the version id.

        `sample_ids`: the ids of the members a caller already read through `iter_members` (which
        re-hashes each one), so an export checks membership without a second pass.
        """
        info = self.get(version_id)
        if sample_ids is None:
            sample_ids = (m.sample.id for m in self.iter_members(version_id))
        ids = sorted(sample_ids)
        if version_hash(ids, info.chain_config, info.tokenizer, info.max_length) != version_id:
            raise StoreError(
                f"version {version_id} in {self._con.path} no longer matches its content hash: its rows "
                "were altered outside synthgate",
                hint="Create a new version from the source; do not edit version tables by hand.",
            )

    def diff(self, a: str, b: str) -> VersionDiff:
        """Samples added, removed and changed from `a` to `b`, and the change in source quality."""
        info_a, info_b = self.get(a), self.get(b)
        only_a = self._only_in(a, b)
        only_b = self._only_in(b, a)
        by_key_b: dict[str, list[str]] = {}
        for sid, key in only_b:
            by_key_b.setdefault(key, []).append(sid)
        changed: list[tuple[str, str]] = []
        removed: list[str] = []
        for sid, key in only_a:
            partners = by_key_b.get(key)
            if partners:
                changed.append((sid, partners.pop(0)))
            else:
                removed.append(sid)
        paired = {new for _, new in changed}
        added = [sid for sid, _ in only_b if sid not in paired]
        codes_a, codes_b = info_a.source_code_counts, info_b.source_code_counts
        deltas = {
            code: (codes_a.get(code, 0), codes_b.get(code, 0), codes_b.get(code, 0) - codes_a.get(code, 0))
            for code in sorted(set(codes_a) | set(codes_b))
        }
        return VersionDiff(
            a=a,
            b=b,
            added=added,
            removed=removed,
            changed=changed,
            pass_rate_a=info_a.source_pass_rate,
            pass_rate_b=info_b.source_pass_rate,
            code_deltas=deltas,
        )

    def require(self, version_id: str) -> None:
        """Raise NotFound (naming how to list ids) unless the version exists."""
        self._con.require("versions", "version", version_id, LIST_COMMAND)

    # --- sources ---------------------------------------------------------------------------

    def _source(self, source_id: str) -> _Source:
        for prefix, load in self._sources.items():
            if source_id.startswith(prefix):
                return load(source_id)
        kinds = ", ".join(f"{p}... " for p in self._sources)
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

    # --- helpers ---------------------------------------------------------------------------

    def _exists(self, version_id: str) -> bool:
        return self._con.fetchone("SELECT 1 FROM versions WHERE id = ?", [version_id]) is not None

    def _newest_named(self, name: str) -> str | None:
        row = self._con.fetchone(
            "SELECT id FROM versions WHERE name = ? ORDER BY created_at DESC, seq DESC LIMIT 1", [name]
        )
        return row[0] if row else None

    def _only_in(self, version_id: str, other: str) -> list[tuple[str, str]]:
        """(sample id, prompt key) of members of `version_id` absent from `other`, in source order."""
        rows = self._con.fetchall(
            "SELECT sample_id, prompt_key, min(source_index) AS first FROM version_samples "
            "WHERE version_id = ? AND sample_id NOT IN "
            "(SELECT sample_id FROM version_samples WHERE version_id = ?) "
            "GROUP BY sample_id, prompt_key ORDER BY first",
            [version_id, other],
        )
        return [(r[0], r[1]) for r in rows]

    def _insert_version(
        self,
        version_id: str,
        name: str,
        parent: str | None,
        source: _Source,
        include: tuple[str, ...],
        tokenizer: str | None,
        max_length: int | None,
    ) -> None:
        reject_secrets(source.chain_config, "chain_config")
        member_counts = dict.fromkeys(STATUSES, 0)
        member_counts.update(
            {
                status: int(n)
                for status, n in self._con.fetchall(
                    "SELECT status, count(*) FROM version_samples WHERE version_id = ? GROUP BY status",
                    [version_id],
                )
            }
        )
        teachers = [
            r[0]
            for r in self._con.fetchall(
                "SELECT DISTINCT json_extract_string(metadata, '$.teacher_model') AS t FROM version_samples "
                "WHERE version_id = ? AND t IS NOT NULL ORDER BY t",
                [version_id],
            )
        ]
        self._con.execute(
            f"INSERT INTO versions ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
            [
                version_id,
                name,
                parent,
                source.id,
                source.kind,
                dumps(list(include)),
                dumps(source.chain_config),
                tokenizer,
                max_length,
                sum(member_counts.values()),
                dumps(source.status_counts),
                dumps(member_counts),
                dumps(source.code_counts),
                dumps(source.findings),
                dumps(teachers),
                utcnow(),
            ],
        )


def version_hash(
    sample_ids: Iterable[str],
    chain_config: dict[str, Any],
    tokenizer: str | None,
    max_length: int | None,
) -> str:
    """`v_` + 16 hex of sha256 over sorted member ids, the canonical chain config and length budget.

    `sample_ids` must already be sorted (duplicates kept: a repeated record is part of the content).

    >>> len(version_hash(["a1", "b2"], {"order": ["thinking"]}, None, 2048))
    18
    """
    h = hashlib.sha256(b"synthgate-version-1\n")
    for sid in sample_ids:
        h.update(sid.encode())
        h.update(b"\n")
    settings = {"chain_config": chain_config, "tokenizer": tokenizer, "max_length": max_length}
    h.update(json.dumps(settings, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
    return "v_" + h.hexdigest()[:16]


def _check_include(include: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(s.strip() for s in include if s.strip()))
    unknown = [s for s in chosen if s not in STATUSES]
    if not chosen or unknown:
        what = f"unknown status {', '.join(map(repr, unknown))}" if unknown else "no status"
        raise ConfigError(f"include: {what}; choose from {', '.join(STATUSES)} (e.g. pass,fixed)")
    return chosen


def _members_where(source: _Source, include: tuple[str, ...]) -> tuple[str, list[Any]]:
    marks = ", ".join("?" * len(include))
    return (
        f"FROM ({source.members_sql}) WHERE status IN ({marks})",
        [*source.members_params, *include],
    )


def _replace_reused(info: VersionInfo) -> VersionInfo:
    return replace(info, reused=True)


def _member(version_id: str, row: tuple) -> VersionMember:
    index, sample_id, key, status, codes, fail_codes, system, prompt, completion, reasoning, task, meta = row
    sample = Sample.model_validate(
        {
            "system_prompt": system,
            "prompt": json.loads(prompt),
            "completion": completion,
            "reasoning": reasoning,
            "task_type": task,
            "metadata": json.loads(meta) if meta else {},
        }
    )
    if sample.id != sample_id:
        raise StoreError(
            f"version {version_id}: the member stored as sample {sample_id} (source index {index}) no "
            f"longer hashes to its id ({sample.id}); version rows were altered outside synthgate",
            hint="Create a new version from the source; do not edit version tables by hand.",
        )
    return VersionMember(index, sample, key, status, list(codes), list(fail_codes))


def _info(row: tuple) -> VersionInfo:
    (ident, name, parent, source, kind, include, chain, tok, max_len, samples, src_counts, mem_counts,
     codes, findings, teachers, created) = row  # fmt: skip
    return VersionInfo(
        id=ident,
        name=name,
        parent_id=parent,
        source_id=source,
        source_kind=kind,
        include=tuple(loads(include) or ()),
        chain_config=loads(chain) or {},
        tokenizer=tok,
        max_length=max_len,
        samples=int(samples),
        source_status_counts=loads(src_counts) or {},
        member_status_counts=loads(mem_counts) or {},
        source_code_counts=loads(codes) or {},
        source_findings=loads(findings) or [],
        teacher_models=loads(teachers) or [],
        created_at=as_utc(created),  # type: ignore[arg-type]
    )
