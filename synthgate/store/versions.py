"""The `versions` and `version_samples` tables: immutable, content-addressed training sets.

A version copies the members it selects from an audited source (the repaired samples whose
derived status is in `include`) together with their status and codes, so nothing done to the source
later can change it. Its id hashes the sorted member sample ids, the chain config and the length
budget: identical content gives the same id, any change a new one. There is no update or delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from synthgate.errors import ConfigError, StoreError
from synthgate.schemas.sample import Sample
from synthgate.store.common import dumps, reject_secrets, utcnow
from synthgate.store.connection import Connection
from synthgate.store.datasets import Datasets
from synthgate.store.verdicts import STATUSES, Verdicts
from synthgate.store.version_records import (
    MEMBER_COLUMNS,
    VERSION_COLUMNS,
    VersionDiff,
    VersionInfo,
    VersionMember,
    member_from_row,
    version_from_row,
    version_hash,
)
from synthgate.store.version_sources import VersionSource, VersionSources, members_where

LIST_COMMAND = "synthgate version list"
DEFAULT_INCLUDE = ("pass", "fixed")


class Versions:
    """Create and read versions; nothing here (or anywhere) alters one once created."""

    def __init__(self, con: Connection, datasets: Datasets, verdicts: Verdicts) -> None:
        self._con = con
        self._sources = VersionSources(con, datasets, verdicts)

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
            source = self._sources.load(source_id)
            length = source.chain_config.get("length") or {}
            tokenizer, max_length = length.get("tokenizer"), length.get("max_length")
            where, params = members_where(source, include)
            ids = (r[0] for r in self._con.stream(f"SELECT sample_id {where} ORDER BY sample_id", params))
            version_id = version_hash(ids, source.chain_config, tokenizer, max_length)
            if self._exists(version_id):
                return _replace_reused(self.get(version_id))
            if parent is not None:
                self.require(parent)
            else:
                parent = self._newest_named(name)
            self._con.execute(
                f"INSERT INTO version_samples (version_id, {MEMBER_COLUMNS}) "
                f"SELECT ?, {MEMBER_COLUMNS} {where}",
                [version_id, *params],
            )
            self._insert_version(version_id, name, parent, source, include, tokenizer, max_length)
            return self.get(version_id)

    def get(self, version_id: str) -> VersionInfo:
        """The version with this id; NotFound (naming how to list ids) when absent."""
        row = self._con.fetchone(f"SELECT {VERSION_COLUMNS} FROM versions WHERE id = ?", [version_id])
        if row is None:
            self.require(version_id)
        assert row is not None
        return version_from_row(row)

    def list(self) -> list[VersionInfo]:
        """All versions, newest first."""
        rows = self._con.fetchall(
            f"SELECT {VERSION_COLUMNS} FROM versions ORDER BY created_at DESC, seq DESC"
        )
        return [version_from_row(r) for r in rows]

    def iter_members(self, version_id: str) -> Iterator[VersionMember]:
        """The version's members in source order, streamed.

        Each member's content is re-hashed against its stored sample id: a row altered outside
        synthgate raises StoreError instead of reaching a training run.
        """
        self.require(version_id)
        sql = f"SELECT {MEMBER_COLUMNS} FROM version_samples WHERE version_id = ? ORDER BY source_index"
        for row in self._con.stream(sql, [version_id]):
            yield member_from_row(version_id, row)

    def preview_members(
        self, source_id: str, include: Sequence[str] = DEFAULT_INCLUDE
    ) -> Iterator[VersionMember]:
        """The members `create(name, source_id, include)` would freeze, streamed; nothing is written."""
        include = _check_include(include)
        source = self._sources.load(source_id)
        where, params = members_where(source, include)
        for row in self._con.stream(f"SELECT {MEMBER_COLUMNS} {where} ORDER BY source_index", params):
            yield member_from_row(source_id, row)

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

    def verify(
        self, version_id: str, sample_ids: Iterable[str] | None = None, *, members_checked: bool = False
    ) -> None:
        """Raise StoreError unless the stored members and settings still hash to the version id.

        `sample_ids`: the ids of the members a caller already read through `iter_members` (which
        re-hashes each one), so an export checks membership without a second pass.
        `members_checked`: the caller read every member through `iter_members`, so each stored id
        matches its content; the stored ids are then streamed in order from the store instead of
        held in a list (an export of a large version).
        """
        info = self.get(version_id)
        ids: Iterable[str]
        if members_checked:
            sql = "SELECT sample_id FROM version_samples WHERE version_id = ? ORDER BY sample_id"
            ids = (r[0] for r in self._con.stream(sql, [version_id]))
        else:
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
        source: VersionSource,
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
            f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES ({', '.join('?' * 16)})",
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


def _check_include(include: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(s.strip() for s in include if s.strip()))
    unknown = [s for s in chosen if s not in STATUSES]
    if not chosen or unknown:
        what = f"unknown status {', '.join(map(repr, unknown))}" if unknown else "no status"
        raise ConfigError(f"include: {what}; choose from {', '.join(STATUSES)} (e.g. pass,fixed)")
    return chosen


def _replace_reused(info: VersionInfo) -> VersionInfo:
    return replace(info, reused=True)
