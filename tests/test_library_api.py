"""The library API a notebook user calls: `synthgate.audit` on files and records in memory, and the
versions, gate and export functions on a real DuckDB file; the README's example runs as written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from datasets import Dataset, DatasetDict
from typer.testing import CliRunner

import synthgate
from synthgate.cli.app import app
from synthgate.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
ALPACA = DATA / "alpaca_en_demo_50.json"
GSM8K = DATA / "gsm8k_test_200.jsonl"


@pytest.fixture(scope="module")
def alpaca() -> list[dict]:
    return json.loads(ALPACA.read_text(encoding="utf-8"))


def outcome(result: synthgate.AuditResult) -> list[tuple]:
    return [(r.index, r.status, r.codes, [(v.code, v.span) for v in r.verdicts]) for r in result.records]


def test_a_list_of_dicts_is_audited_in_memory_with_statuses_codes_and_spans(alpaca, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Record 33 of the slice invites to a webinar on "[date and time]"; it comes twice, then a
    # value that is no record.
    records = [*alpaca[30:36], alpaca[33], "not a record"]
    before = json.dumps(records)
    result = synthgate.audit(records, skip_invalid=True)

    assert list(tmp_path.iterdir()) == []  # no store file: the default store lives in memory
    assert outcome(synthgate.audit(records, skip_invalid=True, db=":memory:")) == outcome(result)
    assert result.dataset_id.startswith("ds_") and result.summary["records"] == 8
    assert result.status_counts == {"pass": 5, "fixed": 0, "fail": 3}
    webinar = result.records[3]
    assert (webinar.status, webinar.codes) == ("fail", ["artifact.unfilled_placeholder"])
    spans = [v.span for v in webinar.verdicts]
    assert [webinar.sample.completion[s.start : s.end] for s in spans] == [
        "[date and time]",
        "[duration]",
        "[Your Name]",
    ]
    assert {s.field for s in spans} == {"completion"}
    assert "dup.exact_record" in result.records[6].codes
    unreadable = result.records[7]
    assert (unreadable.status, unreadable.codes, unreadable.sample) == ("fail", ["input.wrong_type"], None)
    assert unreadable.verdicts[0].message == "list of 8 records, record 7: a record must be a dict, got str"
    assert [f.code for f in result.set_findings] == ["set.near_duplicate_share"]
    assert json.dumps(records) == before  # the caller's records are left as they were

    df = result.to_pandas()
    assert list(df.columns) == list(synthgate.api.audits.RECORD_COLUMNS) and len(df) == 8
    assert df["status"].tolist() == [r.status for r in result.records]
    assert df.loc[3, "codes"] == ["artifact.unfilled_placeholder"]
    assert df.loc[3, "completion"] == alpaca[33]["output"]
    assert df.loc[3, "verdicts"][0]["span"] == {"start": 611, "end": 626, "field": "completion"}
    assert pd.isna(df.loc[7, "completion"]) and df.loc[0, "shard"] == "list of 8 records"


def test_a_dataframe_a_dataset_and_the_file_give_the_same_report(alpaca, tmp_path):
    rows = alpaca[28:36]
    path = tmp_path / "slice.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    shards = tmp_path / "shards"
    shards.mkdir()
    for n, part in enumerate((rows[:4], rows[4:])):
        (shards / f"part-{n}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")

    from_file = synthgate.audit(path)
    from_frame = synthgate.audit(pd.DataFrame(rows))
    from_dataset = synthgate.audit(Dataset.from_list(rows))
    from_folder = synthgate.audit(str(shards))  # the shapes the command reads: here a folder of shards

    assert outcome(from_frame) == outcome(from_file) == outcome(from_dataset) == outcome(from_folder)
    assert from_folder.records[4].shard == str(shards / "part-1.jsonl") and from_folder.records[4].line == 1
    assert "artifact.unfilled_placeholder" in from_file.records[5].codes  # record 33 of the slice
    assert [(r.shard, r.line) for r in from_file.records[:2]] == [(str(path), 1), (str(path), 2)]
    assert (from_frame.records[0].shard, from_frame.records[0].line) == ("pandas DataFrame (8 rows)", None)
    assert from_frame.summary["source"] == "pandas DataFrame (8 rows)"
    assert from_dataset.summary["source"] == "datasets.Dataset (8 rows)"


def test_a_datasetdict_is_audited_by_its_split(alpaca):
    splits = DatasetDict({"train": Dataset.from_list(alpaca[:3]), "test": Dataset.from_list(alpaca[3:5])})
    assert synthgate.audit(splits).summary["records"] == 3
    assert synthgate.audit(splits, split="test").summary["source"] == "datasets.Dataset (test, 2 rows)"
    with pytest.raises(InputError, match=r"holds the splits train, test but no 'validation' split"):
        synthgate.audit(splits, split="validation")


def test_unusable_data_is_an_input_error_naming_the_data_the_record_and_the_field():
    with pytest.raises(InputError, match=r"^list of 2 records, record 1: a record must be a dict, got int$"):
        synthgate.audit([{"prompt": "Hi?", "completion": "Hello."}, 3])
    frame = pd.DataFrame(
        [{"instruction": "Say hi.", "output": "Hi."}, {"instruction": "Say bye.", "output": None}]
    )
    with pytest.raises(InputError, match=r"^pandas DataFrame \(2 rows\), record 1, field 'output': "):
        synthgate.audit(frame)
    with pytest.raises(InputError, match=r"cannot audit a builtins\.int"):
        synthgate.audit(42)
    with pytest.raises(InputError, match=r"the list of records is empty"):
        synthgate.audit([])


def test_the_commands_options_reach_the_audit(tmp_path):
    questions = [json.loads(line) for line in GSM8K.read_text(encoding="utf-8").splitlines()[:3]]
    records = [{"problem": q["question"], "solution": q["answer"]} for q in questions]
    result = synthgate.audit(
        records,
        prompt_field="problem",
        completion_field="solution",
        eval_sets=[GSM8K],
        fail_on="none",
        report=tmp_path / "report.jsonl",
        summary=tmp_path / "summary.json",
    )
    assert [r.codes for r in result.records] == [["contam.exact_match"]] * 3
    assert result.records[0].sample.prompt[0].content == questions[0]["question"]
    assert result.failed is False  # fail_on none, though every record fails
    lines = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert [line["codes"] for line in lines] == [["contam.exact_match"]] * 3
    assert json.loads((tmp_path / "summary.json").read_text())["dataset_id"] == result.dataset_id
    with pytest.raises(synthgate.ConfigError, match=r"--thinking 'maybe' is not a thinking mode"):
        synthgate.audit(records, thinking="maybe")


def test_a_store_file_keeps_the_audit_for_version_gate_and_export(tmp_path):
    db = tmp_path / "s.duckdb"
    result = synthgate.audit(ALPACA, db=db)
    assert result.status_counts == {"pass": 48, "fixed": 0, "fail": 2}

    version = synthgate.create_version("alpaca", result.dataset_id, db=db)
    assert (version.samples, version.include) == (48, ("pass", "fixed"))
    assert synthgate.create_version("alpaca", result.dataset_id, include="pass,fixed", db=db).reused
    # One member's completion carries boilerplate (a warning, so the record passed): the gate refuses it,
    # on the version and on the dataset's preview alike.
    gate, preview = synthgate.check_gate(version.id, db=db), synthgate.check_gate(result.dataset_id, db=db)
    assert (gate.passed, preview.passed, gate.version_id) == (False, False, version.id)
    assert [c.name for c in gate.failed] == ["blocking_codes"] and "artifact.boilerplate 1" in gate.explain()
    with pytest.raises(synthgate.GateRefused, match=r"blocking_codes: 1 of 48 members carry blocking codes"):
        synthgate.export(version.id, tmp_path / "refused", db=db)
    assert not (tmp_path / "refused").exists()

    lenient = tmp_path / "gate.yaml"
    lenient.write_text("block_codes: [leak., loop., length., format., secret., input.]\n", encoding="utf-8")
    assert synthgate.check_gate(version.id, gate=lenient, db=db).passed
    exported = synthgate.export(version.id, tmp_path / "out", gate=lenient, eval_fraction=0.25, db=db)
    assert exported.counts["train"] + exported.counts["eval"] == 48
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["eval.jsonl", "manifest.json", "train.jsonl"]
    # The per-record report is read from the file on first use, after the calls released it.
    assert [r.index for r in result.records if r.status == "fail"] == [33, 44]


def test_the_command_prints_the_summary_the_library_returns(tmp_path):
    db = tmp_path / "s.duckdb"
    done = CliRunner().invoke(app, ["audit", str(ALPACA), "--db", str(db), "--json"])
    assert done.exit_code == 1, done.output  # two records fail: the command's exit 1
    printed = json.loads(done.stdout)
    result = synthgate.audit(ALPACA)
    assert result.failed is True
    for key in ("records", "status_counts", "codes", "set_findings", "verdicts_by_validator"):
        assert printed[key] == result.summary[key], key


def readme_section_code(title: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_library_api_example_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = readme_section_code("Library API")
    assert len(blocks) == 2 and "synthgate.audit(" in blocks[0]
    (tmp_path / "tests" / "data").mkdir(parents=True)
    shutil.copy(ALPACA, tmp_path / "tests" / "data" / ALPACA.name)
    monkeypatch.chdir(tmp_path)  # as from the repository root, writing only into tmp_path
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "50 records (pass 48, fixed 0, fail 2)" in out
    assert "33 artifact.unfilled_placeholder '[date and time]'" in out
    assert "[('fixed', ['think.stripped']), ('pass', [])]" in out
    assert "failed 1 of 4 gate checks" in out and "artifact.boilerplate 1" in out
    assert "passed all 4 gate checks" in out and "'samples': 47" in out
    assert (tmp_path / "exports" / "alpaca-demo" / "manifest.json").exists()
    assert out.rstrip().splitlines()[-1].startswith("[Verdict(")  # the second block: one sample's verdicts
