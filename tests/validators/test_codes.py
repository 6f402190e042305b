"""The reason codes are a closed set: every code any module emits is registered in codes.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import synthgate
from synthgate.validators.codes import CODES, FAMILIES, get, registered

ROOT = Path(synthgate.__file__).parent
CODE_SHAPE = re.compile(r"^([a-z]+)\.[a-z][a-z0-9_]*$")
# Callables whose argument is a reason code: name -> (position, keyword).
EMITTERS = {
    "verdict": (1, "code"),
    "_finding": (0, "code"),
    "get": (0, "code"),
    "get_code": (0, "code"),
    "registered": (0, "code"),
    "OutputError": (0, "code"),
    "ReplyRejected": (0, "code"),
    "RecordError": (0, "code"),
    "InputError": (None, "code"),
    "_JobFailed": (0, "code"),
    "JobRecord": (2, "reason"),
    "replace": (None, "reason"),
}
# Names that are emitters only when called bare (`get(code)`), not as methods (`dict.get`, `str.replace`).
GENERIC = {"get", "replace"}


def emitted_codes(source: str) -> list[tuple[int, str]]:
    """(line, code or code prefix ending in `_`) for every code-like literal in `source`.

    Two nets: a string literal shaped `family.condition` of a registered family anywhere (a typo
    within a family), and any literal passed where an emitter takes a code (a new family).
    f-strings yield their literal head (`dup.exact_` of f"dup.exact_{field}").
    """
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = CODE_SHAPE.match(node.value)
            if m and m.group(1) in FAMILIES:
                found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = str(node.values[0].value)
            m = re.match(r"^([a-z]+)\.[a-z_]*$", head)
            if m and m.group(1) in FAMILIES:
                found.append((node.lineno, head))
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in EMITTERS or (name in GENERIC and not isinstance(node.func, ast.Name)):
                continue
            pos, key = EMITTERS[name]
            args = [kw.value for kw in node.keywords if kw.arg == key]
            if pos is not None and len(node.args) > pos:
                args.append(node.args[pos])
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((arg.lineno, arg.value))
    return sorted(set(found))


def is_registered(code: str) -> bool:
    if code.endswith("_") or code.endswith("."):
        return any(c.startswith(code) for c in CODES)
    return code in CODES


def test_every_code_a_module_emits_is_registered():
    missing = [
        f"{path.relative_to(ROOT.parent)}:{line}: {code}"
        for path in sorted(ROOT.rglob("*.py"))
        for line, code in emitted_codes(path.read_text(encoding="utf-8"))
        if not is_registered(code)
    ]
    assert missing == []


def test_the_scan_finds_an_unregistered_code_in_every_place_a_module_can_emit_one():
    source = """
verdict("leakage", "leak.system_prompt_verbose", "msg")
raise OutputError("parse.bad_reply", "msg")
JobRecord(job.index, "rejected", "review.too_short")
record = replace(record, reason="dedup.same_id")
x = f"loop.repeated_{unit}"
y = "loop.repeated_line"
"""
    assert [(line, code) for line, code in emitted_codes(source) if not is_registered(code)] == [
        (2, "leak.system_prompt_verbose"),
        (3, "parse.bad_reply"),
        (4, "review.too_short"),
        (5, "dedup.same_id"),
    ]


def test_generation_critic_and_self_check_codes_are_registered_with_family_severity_and_meaning():
    for family in ("gen", "critic", "selfcheck"):
        codes = [c for c in CODES.values() if c.family == family]
        assert codes and all(c.status == "fail" and c.severity == "block" and c.summary for c in codes)
    assert {c.code for c in CODES.values() if c.family == "selfcheck"} == {
        "selfcheck.unsupported",
        "selfcheck.invalid_json",
        "selfcheck.schema_violation",
        "selfcheck.backend_error",
    }


def test_an_unregistered_code_fails_at_runtime_naming_the_registry():
    with pytest.raises(
        KeyError, match=r"unknown reason code 'gen\.nope'; add it to synthgate/validators/codes\.py"
    ):
        registered("gen.nope")
    with pytest.raises(KeyError, match="unknown reason code"):
        get("critic.too_kind")
