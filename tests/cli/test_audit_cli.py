"""The real `synthgate audit` CLI on real files with a real DuckDB store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgate.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "data" / "poisoned_rag.jsonl"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def last_line(output: str) -> str:
    return [ln for ln in output.splitlines() if ln.strip()][-1]


@pytest.fixture(scope="module")
def demo_audit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    db, rep, summ = tmp / "s.duckdb", tmp / "report.jsonl", tmp / "summary.json"
    result = run(
        "audit",
        str(DEMO),
        "--db",
        str(db),
        "--max-length",
        "512",
        "--report",
        str(rep),
        "--summary",
        str(summ),
    )
    ids = [json.loads(line)["id"] for line in DEMO.read_text().splitlines()]
    report = [json.loads(line) for line in rep.read_text().splitlines()]
    return result, dict(zip(ids, report, strict=True)), json.loads(summ.read_text()), report, db


def test_poisoned_demo_exits_1_and_ends_with_the_dataset_id(demo_audit):
    result, *_ = demo_audit
    assert result.exit_code == 1
    assert last_line(result.output).startswith("ds_")


def test_report_has_one_line_per_input_record_in_input_order(demo_audit):
    _, _, _, report, _ = demo_audit
    assert [r["index"] for r in report] == list(range(len(DEMO.read_text().splitlines())))
    assert all(set(r) == {"index", "id", "status", "codes", "shard", "line"} for r in report)
    assert [(r["shard"], r["line"]) for r in report] == [(str(DEMO), i + 1) for i in range(len(report))]


@pytest.mark.parametrize(
    ("record", "status", "code"),
    [
        ("leak-verbatim", "fail", "leak.system_prompt_verbatim"),
        ("leak-rule", "fail", "leak.system_prompt_sentence"),
        ("leak-paraphrase", "fail", "leak.system_prompt_paraphrase"),
        ("think-stripped", "fixed", "think.stripped"),
        ("think-unclosed", "fail", "think.unclosed"),
        ("loop-qa", "fail", "loop.extra_qa_pair"),
        ("format-bullets", "fail", "format.markdown_bullets"),
        ("length-truncated-by-teacher", "fail", "loop.finish_reason_length"),
        ("length-over-budget", "fail", "length.completion_over_budget"),
        ("length-long-context", "fixed", "length.prompt_truncated"),
        ("dup-exact", "fail", "dup.exact_record"),
        ("artifact-citation", "fail", "artifact.citation_marker"),
        ("artifact-placeholder", "fail", "artifact.unfilled_placeholder"),
        ("secret-in-answer", "fail", "secret.api_key"),
    ],
)
def test_each_planted_failure_is_reported_with_its_code(demo_audit, record, status, code):
    _, by_id, *_ = demo_audit
    assert by_id[record]["status"] == status
    assert code in by_id[record]["codes"]


def test_clean_records_pass(demo_audit):
    _, by_id, *_ = demo_audit
    for rid in ("clean-qlora", "clean-lora", "clean-raft", "clean-dpo", "clean-refusal"):
        assert by_id[rid]["status"] == "pass", (rid, by_id[rid])


def test_summary_lists_counts_codes_and_the_shared_system_prompt_finding(demo_audit):
    _, _, summary, report, _ = demo_audit
    assert summary["records"] == len(report)
    assert sum(summary["status_counts"].values()) == len(report)
    assert summary["codes"]["leak.system_prompt_verbatim"] == 1
    codes = {f["code"] for f in summary["set_findings"]}
    assert "set.shared_system_prompt" in codes
    assert all({"code", "message", "count"} <= set(f) for f in summary["set_findings"])


def test_stored_dataset_is_listed_and_shown(demo_audit):
    result, _, _, _, db = demo_audit
    ds = last_line(result.output)
    listed = run("datasets", "list", "--db", str(db), "--json")
    assert listed.exit_code == 0 and ds in listed.output
    shown = run("datasets", "show", ds, "--db", str(db), "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["dataset_id"] == ds


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps(
    {
        "messages": [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris is the capital of France."},
        ]
    }
)


def test_clean_file_exits_0(tmp_path):
    f = _write(tmp_path / "ok.jsonl", [GOOD])
    result = run("audit", str(f), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 0, result.output
    assert last_line(result.output).startswith("ds_")


def test_malformed_line_exits_2_naming_file_and_line(tmp_path):
    f = _write(tmp_path / "bad.jsonl", [GOOD, '{"messages": [oops'])
    result = run("audit", str(f), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 2
    assert "bad.jsonl" in result.output and "line 2" in result.output


def test_record_without_completion_names_record_and_field(tmp_path):
    rec = json.dumps({"messages": [{"role": "user", "content": "Hi?"}]})
    f = _write(tmp_path / "nocomp.jsonl", [GOOD, rec])
    result = run("audit", str(f), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 2
    assert "nocomp.jsonl" in result.output and "record 1" in result.output and "messages" in result.output


def test_skip_invalid_reports_unusable_records_and_audits_the_rest(tmp_path):
    f = _write(
        tmp_path / "mixed.jsonl", [GOOD, '{"messages": [oops', GOOD.replace("Paris", "Paris, France,")]
    )
    rep = tmp_path / "r.jsonl"
    result = run("audit", str(f), "--db", str(tmp_path / "s.duckdb"), "--skip-invalid", "--report", str(rep))
    assert result.exit_code == 1
    rows = [json.loads(line) for line in rep.read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[1]["status"] == "fail" and rows[1]["codes"] == ["input.malformed"]
    assert rows[0]["status"] == "pass"


def test_empty_file_exits_2(tmp_path):
    f = tmp_path / "empty.jsonl"
    f.write_text("")
    result = run("audit", str(f), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 2
    assert "empty" in result.output


def test_failed_audit_leaves_the_store_as_it_was(tmp_path):
    db = tmp_path / "s.duckdb"
    ok = _write(tmp_path / "ok.jsonl", [GOOD])
    first = run("audit", str(ok), "--db", str(db))
    bad = _write(tmp_path / "bad.jsonl", [GOOD] * 700 + ["not json"])
    assert run("audit", str(bad), "--db", str(db)).exit_code == 2
    listed = json.loads(run("datasets", "list", "--db", str(db), "--json").output)
    assert [d["id"] for d in listed] == [last_line(first.output)]


def test_fail_on_none_exits_0_despite_findings(tmp_path):
    result = run("audit", str(DEMO), "--db", str(tmp_path / "s.duckdb"), "--fail-on", "none")
    assert result.exit_code == 0


def test_fail_on_code_prefix_only_counts_that_family(tmp_path):
    f = _write(tmp_path / "ok.jsonl", [GOOD])
    assert run("audit", str(f), "--db", str(tmp_path / "s.duckdb"), "--fail-on", "leak.").exit_code == 0
    demo = run("audit", str(DEMO), "--db", str(tmp_path / "s.duckdb"), "--fail-on", "leak.")
    assert demo.exit_code == 1
