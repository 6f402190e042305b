"""Set-level findings: each rule turns the counts `SetChecker` gathered into a `SetFinding` or none.

Kept apart from the streaming pass: a rule reads only finished counts, so each is one function
of plain values, and a new set-level rule does not touch the per-record state.
"""

from __future__ import annotations

from collections import Counter

from synthgate.schemas.chain_config import SetConfig
from synthgate.schemas.verdict import SetFinding
from synthgate.validators.codes import get as get_code


def _finding(code: str, message: str, count: int, share: float, details: dict) -> SetFinding:
    severity = get_code(code).severity
    return SetFinding(
        code=code, severity=severity, message=message, count=count, share=share, details=details
    )


def duplicate_share(count: int, dup_codes: Counter[str], total: int, config: SetConfig) -> list[SetFinding]:
    """`set.near_duplicate_share`: too many records (`count`) duplicate an earlier one.

    Near-duplicate prompts alone don't count in `count`: RAG sets legitimately ask several
    questions about one chunk. What teaches a model to repeat itself is duplicated completions or
    records.
    """
    if not total or count / total <= config.max_near_duplicate_share:
        return []
    share = count / total
    return [
        _finding(
            "set.near_duplicate_share",
            f"{count} of {total} records ({share:.1%}) duplicate an earlier record or repeat (nearly) "
            f"the same completion (limit {config.max_near_duplicate_share:.1%}); "
            "deduplicate before training",
            count,
            share,
            {"by_code": dict(sorted(dup_codes.items()))},
        )
    ]


def shared_system_prompt(
    systems: Counter[int], system_head: dict[int, str], total: int, config: SetConfig
) -> list[SetFinding]:
    """`set.shared_system_prompt`: one system prompt on a large share of the records."""
    if not systems:
        return []
    key, count = systems.most_common(1)[0]
    share = count / total
    if count < 2 or share < config.shared_system_prompt_share:
        return []
    return [
        _finding(
            "set.shared_system_prompt",
            f"{count} of {total} records ({share:.0%}) carry the same system prompt: full-sequence "
            "training would teach the model this prompt; completion-only loss is required",
            count,
            share,
            {"count": count, "share": share, "prompt_head": system_head[key]},
        )
    ]


def template_collapse(
    openings: Counter[tuple[str | None, int]],
    opened: Counter[str | None],
    opening_text: dict[tuple[str | None, int], str],
    config: SetConfig,
) -> list[SetFinding]:
    """`set.template_collapse`: per task type, too many completions share one opening."""
    top: dict[str | None, tuple[int, tuple[str | None, int]]] = {}
    for key, count in openings.items():
        if count > top.get(key[0], (0, key))[0]:
            top[key[0]] = (count, key)
    out = []
    for task, (count, key) in top.items():
        size = opened[task]
        if size < config.template_collapse_min_records or count < 2:
            continue
        share = count / size
        if share < config.template_collapse_share:
            continue
        where = f"of task type {task!r}" if task is not None else "(records without a task type)"
        opening = opening_text[key]
        out.append(
            _finding(
                "set.template_collapse",
                f"{count} of {size} completions {where} ({share:.0%}) open with {opening!r}: "
                "generation collapsed onto one template; vary the instructions or the examples",
                count,
                share,
                {"task_type": task, "opening": opening, "count": count, "records": size},
            )
        )
    return out


def refusal_share(
    groups: Counter[str | None], refusals_by_task: Counter[str | None], total: int, config: SetConfig
) -> list[SetFinding]:
    """`set.refusal_share`: the refusal share of a task type (or `*`) outside its expected range."""
    if not config.refusal_share or not total:
        return []
    records = {group_label(t): n for t, n in groups.items()}
    refusals = {group_label(t): refusals_by_task[t] for t in groups}
    records["*"], refusals["*"] = total, sum(refusals_by_task.values())
    shares = {t: refusals[t] / records[t] for t in records}
    details = {"shares": shares, "refusals": refusals, "records": records}
    out = []
    for task, (low, high) in config.refusal_share.items():
        if task not in records or low <= shares[task] <= high:
            continue
        which = "all records" if task == "*" else f"task type {task!r}"
        out.append(
            _finding(
                "set.refusal_share",
                f"{refusals[task]} of {records[task]} completions of {which} are refusals "
                f"({shares[task]:.1%}); expected {low:.0%} to {high:.0%}",
                refusals[task],
                shares[task],
                {"task_type": task, "expected": [low, high], **details},
            )
        )
    return out


def templated_prompts(templated: Counter[int], heads: dict[int, str], total: int) -> list[SetFinding]:
    """`set.templated_prompts`: prompts that differ from an earlier one only in slot values.

    `templated` counts, per template (keyed by its first record), the later records that fill it
    with other values; `heads` holds one such prompt's start. One finding for the whole set, not a
    verdict per record: a templated set (math drills, a form with a swapped name) is a property of
    the set, and hundreds of per-record warnings would bury everything else.
    """
    count = sum(templated.values())
    if not total or count < 1:
        return []
    records = count + len(templated)  # each template's first record is part of it too
    share = records / total
    top = [{"example": heads[key], "records": n + 1} for key, n in templated.most_common(5)]
    return [
        _finding(
            "set.templated_prompts",
            f"{records} of {total} prompts ({share:.0%}) follow {len(templated)} template(s) and differ "
            f"only in slot values (numbers, names, single words); the largest has {top[0]['records']} "
            f"records, e.g. {top[0]['example']!r}. Check that the set is not one template filled many times",
            records,
            share,
            {"templates": len(templated), "records": records, "top": top},
        )
    ]


def low_diversity(stats: dict, config: SetConfig) -> list[SetFinding]:
    """`set.low_diversity`: too few distinct completions (from `SetChecker.stats`)."""
    total = stats["records"]
    if not total:
        return []
    distinct, ratio = stats["distinct_completions"], stats["distinct_completion_ratio"]
    if ratio >= config.low_diversity_ratio:
        return []
    keys = (
        "distinct_completions",
        "distinct_prompts",
        "distinct_completion_ratio",
        "distinct_prompt_ratio",
    )
    return [
        _finding(
            "set.low_diversity",
            f"only {distinct} distinct completions in {total} records "
            f"({ratio:.0%}, limit {config.low_diversity_ratio:.0%})",
            distinct,
            ratio,
            {k: stats[k] for k in keys},
        )
    ]


def group_label(task: str | None) -> str:
    """A task type as reports name it: "(none)" for records without one."""
    return task if task is not None else "(none)"
