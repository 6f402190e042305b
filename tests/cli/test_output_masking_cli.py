"""Nothing synthgate prints, writes or stores leaks a planted secret; record text is printed
escaped; every `--json` prints exactly one JSON document with its id inside.

A key of every supported shape is planted in a completion, a user turn, a system prompt, a record
id and invalid records (audited with --skip-invalid); the real CLI runs on the file and every
byte of stdout, stderr, the report, the summary, the export and the DuckDB file is searched.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from planted_secrets import EMAIL, KEYS, PHONE, all_planted, secret_needles
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.validators.secrets import mask_same_length

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def last_line(output: str) -> str:
    return [ln for ln in output.splitlines() if ln.strip()][-1]


def leaks(text: str) -> list[str]:
    return [n for n in secret_needles() if n in text]


def planted_records() -> list[dict]:
    keys = "\n".join(f"value_{i}: {s}" for i, s in enumerate(all_planted()))
    return [
        {
            "id": f"user-{EMAIL}",
            "messages": [
                {"role": "system", "content": f"You are the ops bot. Credentials:\n{keys}"},
                {"role": "user", "content": f"Here is my config:\n{keys}\nWhat is wrong with it?"},
                {"role": "assistant", "content": f"Your config:\n{keys}\nOpen the [location] page next."},
            ],
        },
        # Unusable records: no completion, and a key used as a role (the error quotes the role).
        {"messages": [{"role": "user", "content": f"Rotate these:\n{keys}"}]},
        {
            "messages": [
                {"role": KEYS["openai"], "content": keys},
                {"role": "assistant", "content": "Done."},
            ]
        },
        {"prompt": "Who do I call?", "completion": f"Call {PHONE} or mail {EMAIL} about [billing]."},
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def store_text(db: Path) -> tuple[bytes, str]:
    """The DuckDB file's bytes after a checkpoint, and every row of every table as text (the file
    compresses strings, so its bytes alone could hide a key)."""
    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    rows = "\n".join(str(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"').fetchall())
    con.close()
    files = [db, *db.parent.glob(db.name + ".wal")]
    return b"".join(f.read_bytes() for f in files), rows


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """(outputs by name, db, dataset id) of the planted file audited the ways a user would."""
    tmp = tmp_path_factory.mktemp("masking")
    data = write_jsonl(tmp / "planted.jsonl", planted_records())
    db, rep, summ = tmp / "s.duckdb", tmp / "report.jsonl", tmp / "summary.json"
    text = run(
        "audit", str(data), "--skip-invalid", "--report", str(rep), "--summary", str(summ), "--db", str(db)
    )
    ds = last_line(text.stdout)
    as_json = run("audit", str(data), "--skip-invalid", "--json", "--db", str(tmp / "j.duckdb"))
    shown = run("datasets", "show", ds, "--db", str(db))
    shown_json = run("datasets", "show", ds, "--json", "--db", str(db))
    refused = run("audit", str(data), "--db", str(tmp / "refused.duckdb"))
    outputs = {
        "audit stdout": text.stdout,
        "audit stderr": text.stderr,
        "report": rep.read_text(encoding="utf-8"),
        "summary": summ.read_text(encoding="utf-8"),
        "audit --json stdout": as_json.stdout,
        "audit --json stderr": as_json.stderr,
        "datasets show": shown.stdout + shown.stderr,
        "datasets show --json": shown_json.stdout + shown_json.stderr,
        "audit without --skip-invalid": refused.stdout + refused.stderr,
    }
    return outputs, (text, as_json, shown, shown_json, refused), db, ds


def test_audit_finds_each_planted_shape_and_reports_the_unusable_records(audited):
    outputs, (text, *_), _, _ = audited
    assert text.exit_code == 1
    summary = json.loads(outputs["summary"])
    assert summary["records"] == 4
    assert {
        "secret.api_key",
        "secret.private_key",
        "secret.url_credentials",
        "pii.email",
        "pii.phone",
    } <= set(summary["codes"])
    assert {"input.no_completion", "input.malformed"} <= set(summary["codes"])


def test_no_output_of_the_audit_holds_a_planted_secret(audited):
    outputs, *_ = audited
    found = {name: leaks(out) for name, out in outputs.items()}
    assert found == {name: [] for name in outputs}
    assert "[masked]" in outputs["audit stdout"] and "*****" in outputs["audit stdout"]


def test_the_store_never_holds_a_planted_secret_in_any_table_or_byte(audited):
    _, _, db, _ = audited
    raw, rows = store_text(db)
    assert [n for n in secret_needles() if n.encode() in raw] == []
    assert leaks(rows) == []
    assert "*****" in rows  # the records are there, masked


def test_stored_spans_still_point_at_their_masked_findings(audited):
    _, _, db, ds = audited
    con = duckdb.connect(str(db), read_only=True)
    completion = con.execute(
        "SELECT completion FROM samples WHERE dataset_id = ? AND idx = 0", [ds]
    ).fetchone()[0]
    spans = con.execute(
        "SELECT code, span_start, span_end FROM verdicts WHERE dataset_id = ? AND idx = 0 "
        "AND span_field = 'completion' AND code LIKE 'secret.%' ORDER BY span_start",
        [ds],
    ).fetchall()
    con.close()
    original = planted_records()[0]["messages"][-1]["content"]
    assert len(completion) == len(original)
    assert len(spans) == len(KEYS) + 3  # every provider key, Azure, the URL password, the PEM block
    for _, a, b in spans:
        assert completion[a:b] == mask_same_length(original[a:b]) != original[a:b]


def test_invalid_record_error_without_skip_invalid_is_masked_and_exits_2(audited):
    *_, refused = audited[1]
    assert refused.exit_code == 2
    assert "record 1" in refused.stderr and leaks(refused.stderr) == []


def test_brackets_in_record_text_survive_in_printed_excerpts_and_messages(audited):
    outputs, *_ = audited
    for name in ("audit stdout", "datasets show"):
        assert 'unfilled placeholder "[location]" in the completion' in outputs[name]  # message
        assert "Open the [location] page next." in outputs[name]  # excerpt


def test_audit_json_is_one_document_with_the_dataset_id_and_nothing_else_on_stdout(audited):
    outputs, (_, as_json, _, shown_json, _), _, ds = audited
    doc = json.loads(outputs["audit --json stdout"])
    assert doc["dataset_id"].startswith("ds_") and as_json.exit_code == 1
    assert json.loads(shown_json.stdout)["dataset_id"] == ds


def test_every_json_command_prints_one_parseable_document_with_its_id(tmp_path):
    """audit, datasets list/show, version create/list/show/diff, export and runs list under --json."""
    db = str(tmp_path / "s.duckdb")
    clean = [
        {"prompt": "What is the capital of France?", "completion": "Paris is the capital of France."},
        {"prompt": "Who to contact?", "completion": f"Write to {EMAIL} or call {PHONE} [weekdays]."},
    ]
    data = write_jsonl(tmp_path / "clean.jsonl", clean)
    docs = {}

    def doc(name: str, *args: str) -> dict | list:
        result = run(*args, "--json", "--db", db)
        assert result.exit_code == 0, result.output
        docs[name] = json.loads(result.stdout)  # the whole of stdout is one document
        assert leaks(result.stdout + result.stderr) == [], name
        return docs[name]

    ds = doc("audit", "audit", str(data))["dataset_id"]
    assert [d["id"] for d in doc("datasets list", "datasets", "list")] == [ds]
    assert doc("datasets show", "datasets", "show", ds)["dataset_id"] == ds
    v1 = doc("version create", "version", "create", "clean", "--source", ds)["id"]
    assert doc("version create again", "version", "create", "clean", "--source", ds)["id"] == v1
    assert [v["id"] for v in doc("version list", "version", "list")] == [v1]
    assert doc("version show", "version", "show", v1)["id"] == v1
    assert doc("version diff", "version", "diff", v1, v1)["added"] == []
    out = tmp_path / "export"
    manifest = doc("export", "export", v1, "--out", str(out), "--eval-fraction", "0.5")
    assert manifest["out_dir"] == str(out) and manifest["files"]
    assert doc("runs list", "runs", "list") == []
    exported = "".join(p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file())
    assert "Paris is the capital of France." in exported and leaks(exported) == []


def test_without_json_the_last_line_is_still_the_id(tmp_path):
    data = write_jsonl(tmp_path / "one.jsonl", [{"prompt": "Hi?", "completion": "Hello [friend]."}])
    result = run("audit", str(data), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 0 and last_line(result.stdout).startswith("ds_")


def test_error_quoting_record_text_keeps_its_brackets(tmp_path):
    record = {"messages": [{"role": "[bot]", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    data = write_jsonl(tmp_path / "roles.jsonl", [record])
    result = run("audit", str(data), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 2
    assert "unknown role '[bot]'" in result.stderr
