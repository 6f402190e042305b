"""A stored version as values: `VersionInfo`, `VersionMember`, `VersionDiff`, the row layouts they
are read from, and the content hash that names a version.

Decoding a member re-hashes it against its stored sample id, so every read path checks the
content, not only `Versions.verify`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from synthgate.errors import StoreError
from synthgate.schemas.sample import Sample
from synthgate.store.common import as_utc, loads

VERSION_COLUMNS = (
    "id, name, parent_id, source_id, source_kind, include, chain_config, tokenizer, max_length, samples, "
    "source_status_counts, member_status_counts, source_code_counts, source_findings, teacher_models, "
    "created_at"
)
MEMBER_COLUMNS = (
    "source_index, sample_id, prompt_key, status, codes, fail_codes, system_prompt, prompt, completion, "
    "reasoning, task_type, metadata"
)


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


def member_from_row(version_id: str, row: tuple) -> VersionMember:
    """One row of MEMBER_COLUMNS -> VersionMember of `version_id`."""
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


def version_from_row(row: tuple) -> VersionInfo:
    """One row of VERSION_COLUMNS -> VersionInfo."""
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
