"""`synthgate audit` on real files as they are: the input flags, what is printed about how records
were read, and the clear error for what is still refused."""

from __future__ import annotations

import json
from pathlib import Path

import real_shapes
from typer.testing import CliRunner

from synthgate.cli.app import app

runner = CliRunner()


def audit(tmp_path: Path, path: Path, *args: str):
    """(result, report rows, summary) of `synthgate audit PATH ARGS` into a fresh store."""
    db = tmp_path / f"s{len(list(tmp_path.glob('*.duckdb')))}.duckdb"
    rep, summ = tmp_path / "report.jsonl", tmp_path / "summary.json"
    for f in (rep, summ):
        f.unlink(missing_ok=True)
    args = ("audit", str(path), "--db", str(db), "--report", str(rep), "--summary", str(summ), *args)
    result = runner.invoke(app, list(args), catch_exceptions=False)
    rows = [json.loads(line) for line in rep.read_text().splitlines()] if rep.exists() else []
    summary = json.loads(summ.read_text()) if summ.exists() else {}
    return result, rows, summary


def test_extra_columns_are_kept_and_listed_once_in_the_output_and_summary(tmp_path):
    path = real_shapes.alpaca_with_extra_columns(tmp_path / "alpaca.jsonl")
    result, rows, summary = audit(tmp_path, path, "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert len(rows) == 50
    assert summary["extra_fields"] == {"source_arxiv_id": 50}
    assert (
        "read as: instruction/output (50); extra fields kept as metadata: source_arxiv_id (50)"
        in result.output
    )
    assert result.output.count("source_arxiv_id") == 1


def test_strict_fields_exits_2_naming_file_record_and_field_and_the_old_flag_still_runs(tmp_path):
    path = real_shapes.alpaca_with_extra_columns(tmp_path / "alpaca.jsonl")
    result, rows, _ = audit(tmp_path, path, "--strict-fields")
    assert result.exit_code == 2 and rows == []
    assert (
        "alpaca.jsonl, record 0, field 'source_arxiv_id': unknown field(s) 'source_arxiv_id'" in result.output
    )
    result, rows, _ = audit(tmp_path, path, "--allow-extra-fields", "--fail-on", "none")
    assert result.exit_code == 0 and len(rows) == 50


def test_named_prompt_completion_system_and_task_fields(tmp_path):
    records = [
        {
            "problem": r["question"],
            "solution": r["answer"],
            "persona": "tutor",
            "kind": "math",
            "sys": "Be brief.",
        }
        for r in real_shapes.GSM8K[:25]
    ]
    path = real_shapes.write_jsonl(tmp_path / "named.jsonl", records)
    result, _, _ = audit(tmp_path, path)
    assert result.exit_code == 2
    assert "named.jsonl, record 0: no record format fits the keys" in result.output
    args = ("--prompt-field", "problem", "--completion-field", "solution", "--system-field", "sys")
    result, rows, summary = audit(tmp_path, path, *args, "--task-field", "kind", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert summary["read_as"] == {"problem/solution": 25} and "extra_fields" not in summary
    assert summary["diversity"]["task_types"]["top"] == [{"label": "math", "count": 25, "share": 1.0}]
    assert "set.shared_system_prompt" in {
        f["code"] for f in summary["set_findings"]
    }  # the system field is read


def test_tool_call_conversations_exit_1_with_tool_codes_per_record(tmp_path):
    result, rows, summary = audit(tmp_path, real_shapes.openai_tool_calls(tmp_path / "tools.jsonl"))
    assert result.exit_code == 1
    assert [r["codes"] for r in rows[:4]] == [
        [],
        ["tool.invalid_arguments"],
        ["tool.schema_violation"],
        ["tool.unknown_tool"],
    ]
    assert summary["verdicts_by_validator"]["tools"] == {
        "tool.invalid_arguments": 1,
        "tool.schema_violation": 1,
        "tool.unknown_tool": 1,
    }


def test_a_chatml_text_file_is_audited_with_its_system_prompt(tmp_path):
    result, rows, summary = audit(tmp_path, real_shapes.chatml_text(tmp_path / "chatml.jsonl"))
    assert result.exit_code == 1
    assert "read as: text (chatml) (20)" in result.output
    assert "leak.system_prompt_verbatim" in rows[1]["codes"]
    assert "artifact.special_token" in rows[2]["codes"]
    assert summary["read_as"] == {"text (chatml)": 20}


def test_a_line_nested_thousands_deep_exits_2_with_the_file_and_line_not_a_traceback(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"prompt": "q", "completion": ' + "[" * 5000 + "]" * 5000 + "}\n", encoding="utf-8")
    result, _, _ = audit(tmp_path, path)
    assert result.exit_code == 2
    assert "deep.jsonl, record 0: line 1 nests arrays/objects too deep to read" in result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
