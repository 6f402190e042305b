"""The training gate: a declared policy a version must satisfy before it can be exported.

>>> policy = GatePolicy(min_samples=10, refusal_share={"refusal": (0.9, 1.0)})
>>> policy.block_codes[:3]
['leak.', 'think.', 'loop.']

The checks run on what the version froze at creation (its members, their codes, its source's
set-level findings), so a version gives the same answer every time it is evaluated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthgate.config import load_mapping, validation_message
from synthgate.errors import ConfigError
from synthgate.store import Store, VersionMember
from synthgate.training.manifest import GateCheck
from synthgate.validators.codes import check_prefixes
from synthgate.validators.refusal import is_refusal

DEFAULT_POLICY_FILE = "default_gate.yaml"
SHARED_SYSTEM_PROMPT = "set.shared_system_prompt"
DUPLICATE_PREFIX = "dup."

DEFAULT_BLOCK_CODES = [
    "leak.",
    "think.",
    "loop.",
    "length.",
    "dup.exact_record",
    "format.",
    "schema.",
    "artifact.",
    "secret.",
    "input.",
]


class GatePolicy(BaseModel):
    """What a version must satisfy to be exported for training."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block_codes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BLOCK_CODES),
        description="Code prefixes that block: a member carrying a failed verdict whose code starts with "
        "one of these refuses the export (repairs such as think.stripped never block).",
    )
    min_samples: int = Field(
        default=1,
        ge=0,
        description="Fewest members a version needs; the default 1 refuses only an empty version.",
    )
    max_near_duplicate_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Highest share of members the audit flagged as duplicates (dup.*, except "
        "near-duplicate prompts alone, which RAG sets legitimately have).",
    )
    refusal_share: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="task type -> [min, max] share of members whose completion is a refusal; '*' for "
        "all members, '(none)' for members without a task type.",
    )
    min_critic_score: float | None = Field(
        default=None,
        description="Lowest mean critic score (over a sample's rubric scores) a member may have; "
        "applies to members carrying critic scores. None: not checked.",
    )
    require_completion_only: bool = Field(
        default=True,
        description="The trainer must compute the loss on completions only. Setting it false is refused "
        "when the source has a set.shared_system_prompt finding (the student would learn the prompt).",
    )

    @field_validator("block_codes")
    @classmethod
    def _known_codes(cls, block_codes: list[str]) -> list[str]:
        check_prefixes(block_codes)
        return block_codes

    @model_validator(mode="after")
    def _ranges_ordered(self) -> GatePolicy:
        for task, (low, high) in self.refusal_share.items():
            if not 0 <= low <= high <= 1:
                raise ValueError(f"refusal_share[{task!r}] must be [min, max] with 0 <= min <= max <= 1")
        return self


class GateResult(BaseModel):
    """The gate's verdict on one version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version_id: str
    passed: bool
    policy: GatePolicy
    checks: list[GateCheck]

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def report(self) -> dict[str, Any]:
        """The `gate` section of an export manifest: passed, policy, checks."""
        return {
            "passed": self.passed,
            "policy": self.policy.model_dump(mode="json"),
            "checks": [c.model_dump(mode="json") for c in self.checks],
        }

    def explain(self) -> str:
        """One line per failed check (or a line saying all passed)."""
        if self.passed:
            return f"version {self.version_id} passed all {len(self.checks)} gate checks"
        lines = [f"version {self.version_id} failed {len(self.failed)} of {len(self.checks)} gate checks:"]
        lines += [f"  - {c.name}: {c.message}" for c in self.failed]
        return "\n".join(lines)


def load_policy(path: str | Path | None = None) -> GatePolicy:
    """The policy in `path` (YAML/JSON), or the shipped default when None; unknown keys are errors."""
    if path is None:
        ref = resources.files("synthgate.training") / DEFAULT_POLICY_FILE
        with resources.as_file(ref) as file:
            return _parse(load_mapping(file), file)
    path = Path(path)
    return _parse(load_mapping(path), path)


def check_gate(store: Store, version_id: str, policy: GatePolicy | None = None) -> GateResult:
    """Run every check of `policy` (default: the shipped policy) on a stored version."""
    policy = policy or load_policy()
    info = store.versions.get(version_id)
    shared_prompt = any(f.get("code") == SHARED_SYSTEM_PROMPT for f in info.source_findings)
    members = store.versions.iter_members(version_id)
    return _run_checks(members, policy, version_id, info.source_id, shared_prompt)


def preview_gate(store: Store, dataset_id: str, policy: GatePolicy | None = None) -> GateResult:
    """The gate's verdict on the version `synthgate version create NAME --source DATASET` would make
    (default include), without making it; `version_id` names the dataset."""
    policy = policy or load_policy()
    shared_prompt = any(f.code == SHARED_SYSTEM_PROMPT for f in store.datasets.findings(dataset_id))
    members = store.versions.preview_members(dataset_id)
    return _run_checks(members, policy, dataset_id, dataset_id, shared_prompt)


def _run_checks(
    members: Iterable[VersionMember], policy: GatePolicy, subject: str, source_id: str, shared_prompt: bool
) -> GateResult:
    scan = _Scan(policy)
    for member in members:
        scan.observe(member)
    checks = [
        _blocking_codes(scan, policy),
        _min_samples(scan, policy),
        _duplicate_share(scan, policy),
        *_refusal_shares(scan, policy),
        *_critic_score(scan, policy),
        _completion_only(policy, shared_prompt, source_id),
    ]
    return GateResult(version_id=subject, passed=all(c.passed for c in checks), policy=policy, checks=checks)


class _Scan:
    """Per-member tallies gathered in one pass over the version."""

    def __init__(self, policy: GatePolicy) -> None:
        self._prefixes = tuple(policy.block_codes)
        self._refusals = bool(policy.refusal_share)
        self._min_score = policy.min_critic_score
        self.members = 0
        self.blocked = 0
        self.block_codes: Counter[str] = Counter()
        self.duplicates = 0
        self.by_task: Counter[str] = Counter()
        self.refusals_by_task: Counter[str] = Counter()
        self.scored = 0
        self.below = 0
        self.lowest: float | None = None

    def observe(self, m: VersionMember) -> None:
        self.members += 1
        blocking = [c for c in m.fail_codes if c.startswith(self._prefixes)] if self._prefixes else []
        if blocking:
            self.blocked += 1
            self.block_codes.update(blocking)
        # Same rule as the audit's set.near_duplicate_share: near-duplicate prompts alone are
        # normal in RAG sets (several questions on one chunk); repeated completions/records are not.
        if any(c.startswith(DUPLICATE_PREFIX) and c != "dup.near_prompt" for c in m.fail_codes):
            self.duplicates += 1
        if self._refusals:
            task = m.sample.task_type if m.sample.task_type is not None else "(none)"
            refused = is_refusal(m.sample.completion)
            for label in (task, "*"):
                self.by_task[label] += 1
                self.refusals_by_task[label] += refused
        scores = m.sample.metadata.critic_scores
        if self._min_score is not None and scores:
            mean = sum(scores.values()) / len(scores)
            self.scored += 1
            self.below += mean < self._min_score
            self.lowest = mean if self.lowest is None else min(self.lowest, mean)


def _blocking_codes(scan: _Scan, policy: GatePolicy) -> GateCheck:
    if not scan.blocked:
        message = f"no member carries a blocking code ({', '.join(policy.block_codes) or 'none configured'})"
    else:
        per_code = ", ".join(f"{code} {n}" for code, n in sorted(scan.block_codes.items(), key=_by_count))
        message = f"{scan.blocked} of {scan.members} members carry blocking codes: {per_code}"
    return GateCheck(
        name="blocking_codes", passed=not scan.blocked, value=scan.blocked, limit=0, message=message
    )


def _min_samples(scan: _Scan, policy: GatePolicy) -> GateCheck:
    ok = scan.members >= policy.min_samples
    relation = "at least" if ok else "fewer than the"
    return GateCheck(
        name="min_samples",
        passed=ok,
        value=scan.members,
        limit=policy.min_samples,
        message=f"{scan.members} members, {relation} {policy.min_samples} required",
    )


def _duplicate_share(scan: _Scan, policy: GatePolicy) -> GateCheck:
    share = scan.duplicates / scan.members if scan.members else 0.0
    ok = share <= policy.max_near_duplicate_share
    return GateCheck(
        name="near_duplicate_share",
        passed=ok,
        value=round(share, 6),
        limit=policy.max_near_duplicate_share,
        message=f"{scan.duplicates} of {scan.members} members ({share:.1%}) are exact or near duplicates "
        f"(dup.*); at most {policy.max_near_duplicate_share:.1%} allowed",
    )


def _refusal_shares(scan: _Scan, policy: GatePolicy) -> list[GateCheck]:
    checks = []
    for task, (low, high) in policy.refusal_share.items():
        name = f"refusal_share[{task}]"
        which = "all members" if task == "*" else f"members of task type {task!r}"
        records = scan.by_task.get(task, 0)
        if not records:
            checks.append(
                GateCheck(name=name, passed=True, value=None, limit=[low, high], message=f"no {which}")
            )
            continue
        refusals = scan.refusals_by_task[task]
        share = refusals / records
        checks.append(
            GateCheck(
                name=name,
                passed=low <= share <= high,
                value=round(share, 6),
                limit=[low, high],
                message=f"{refusals} of {records} {which} are refusals ({share:.1%}); "
                f"expected {low:.0%} to {high:.0%}",
            )
        )
    return checks


def _critic_score(scan: _Scan, policy: GatePolicy) -> list[GateCheck]:
    limit = policy.min_critic_score
    if limit is None:
        return []
    if not scan.scored:
        message = "no member carries critic scores; nothing to check"
    else:
        message = (
            f"{scan.below} of {scan.scored} scored members have a mean critic score below {limit:g} "
            f"(lowest {scan.lowest:.3g})"
        )
    check = GateCheck(
        name="min_critic_score", passed=not scan.below, value=scan.lowest, limit=limit, message=message
    )
    return [check]


def _completion_only(policy: GatePolicy, shared_prompt: bool, source_id: str) -> GateCheck:
    if policy.require_completion_only:
        message = "the trainer must compute the loss on completions only (prompt tokens masked)"
        ok = True
    elif shared_prompt:
        message = (
            f"require_completion_only is false, but source {source_id} has a {SHARED_SYSTEM_PROMPT} "
            "finding: full-sequence training would teach the student the system prompt"
        )
        ok = False
    else:
        message = "full-sequence training allowed: no set.shared_system_prompt finding on the source"
        ok = True
    return GateCheck(
        name="completion_only",
        passed=ok,
        value=policy.require_completion_only,
        limit=True if shared_prompt else None,
        message=message,
    )


def _parse(data: dict[str, Any], path: Path) -> GatePolicy:
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            validation_message(path, err),
            hint="Fix the key (see synthgate/training/default_gate.yaml for every setting).",
        ) from None


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])
