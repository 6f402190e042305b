"""The HTML report as a file: what it holds, what it must never hold, and the commands that write it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from report_data import (
    CRITIC_HIGH,
    DEMO,
    GSM8K,
    MTBENCH,
    PLANTED_KEY,
    SCRIPT,
    audited,
    hostile_records,
    write_jsonl,
)
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.errors import InputError, NotFound
from synthgate.report.html import build_report, reproduce_command
from synthgate.schemas.chain_config import LengthConfig
from synthgate.store import Store
from synthgate.validators.length import LengthValidator

runner = CliRunner()


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of script/style elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_data(self, data):
        if self._in == "style":
            self.styles.append(data)

    def handle_endtag(self, tag):
        self._in = None


def parse(html: str) -> Tags:
    t = Tags()
    t.feed(html)
    return t


def test_report_loads_nothing_from_outside_the_file(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["demo"])
    tags = parse(html)
    names = {t for t, _ in tags.tags}
    assert not names & {"link", "img", "iframe", "object", "embed", "image", "use"}
    for tag, attrs in tags.tags:
        assert "src" not in attrs, tag
        assert (attrs.get("href") or "#").startswith("#"), (tag, attrs)
    assert [a for t, a in tags.tags if t == "script" and "src" in a] == []
    css = "".join(tags.styles)
    assert "url(" not in css and "@import" not in css
    assert "default-src 'none'" in html  # the CSP forbids any fetch the markup might still make


def test_record_markup_is_shown_escaped_and_the_planted_key_is_masked(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["hostile"])
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the secret.api_key example shows it
    assert '<img src="x"' not in html
    assert PLANTED_KEY not in html and PLANTED_KEY[4:-2] not in html
    assert len([t for t, _ in parse(html).tags if t == "script"]) == 1  # only the report's own


def test_every_code_gets_one_bar_per_effect_linking_to_its_examples(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["demo"])
        codes = store.code_counts(ids["demo"])
    bars = [a for t, a in parse(html).tags if t == "rect" and a.get("data-code")]
    assert {b["data-code"] for b in bars} == set(codes)
    assert {b["data-code"]: int(b["data-value"]) for b in bars} == codes  # one effect per code here
    for code in codes:
        assert f'href="#ex-{code}"' in html and f'id="ex-{code}"' in html
    effects = {b["data-code"]: b["class"] for b in bars}
    assert effects["length.prompt_truncated"] == "bar effect-fixed"
    assert effects["dup.near_prompt"] == "bar effect-warn"
    assert effects["leak.system_prompt_verbatim"] == "bar effect-block"


def test_token_counts_are_stored_for_every_record_as_the_length_check_counts_them(reports, gemma_tokenizer):
    db, ids, _ = reports
    length = LengthValidator(LengthConfig(max_length=512), tokenizer=gemma_tokenizer)
    with Store.open(db) as store:
        rows = list(store.samples.iter(ids["demo"]))
        codes = {r.index: r.codes for r in store.report_rows(ids["demo"])}
    assert rows and all(r.tokens is not None for r in rows)
    checked = 0
    for r in rows:
        # Counted on the sample before the length check's own repair (the original when it truncated).
        # Left out: records whose stored text is not what the check saw (a stripped thinking block,
        # a masked secret: the trainer would see the key, so it was counted).
        if any(c.startswith(("think.", "secret.")) for c in codes[r.index]):
            continue
        seen = r.original if r.original is not None else r.sample
        assert r.tokens == tuple(length.token_counts([seen])[0]), r.index
        checked += 1
    assert checked >= 15


def test_histograms_cover_every_measured_record_and_count_those_over_budget(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["demo"])
        rows = list(store.samples.iter(ids["demo"]))
    tags = parse(html).tags
    over = sum(1 for r in rows if sum(r.tokens) > 512)
    assert over == 2
    assert f"{over} records over it" in html
    for part in ("prompt", "completion", "total"):
        start = next(i for i, (t, a) in enumerate(tags) if t == "svg" and a.get("id") == f"hist-{part}")
        end = next(
            (i for i, (t, _) in enumerate(tags[start + 1 :], start + 1) if t in ("svg", "figure")), len(tags)
        )
        bars = [a for t, a in tags[start:end] if t == "rect"]
        assert len(bars) == 30
        assert sum(int(b["data-value"]) for b in bars) == len(rows)
        lines = [a for t, a in tags[start:end] if t == "line" and a.get("class") == "max-length"]
        assert [a["data-max-length"] for a in lines] == ["512"]


def test_examples_highlight_the_span_with_its_reason(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["demo"])
    block = html[html.index('id="ex-leak.system_prompt_verbatim"') :]
    block = block[: block.index("</details>")]
    assert re.search(r"<mark>[^<]{20,}</mark>", block)
    assert "repeats" in block or "system prompt" in block


def test_preference_report_shows_pair_statistics_and_pair_codes(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["preference"])
    assert 'id="preference"' in html
    assert 'data-code="pref.identical_pair"' in html


def test_compare_shows_code_and_status_deltas_side_by_side(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["hostile"], compare=ids["demo"])
        a, b = store.status_counts(ids["demo"]), store.status_counts(ids["hostile"])  # baseline first
    section = html[html.index('id="compare-status"') :]
    for status in ("pass", "fixed", "fail"):
        assert f'<td>{status}</td><td class="n">{a[status]}</td><td class="n">{b[status]}</td>' in section


def test_report_of_a_version_evaluates_the_gate_on_the_version(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        version = store.versions.create("demo", ids["demo"], include=["pass", "fixed", "fail"])
        html = build_report(store, version.id)
    assert f"version {version.id}" in html
    assert "refuses" in html and "blocking_codes" in html


def test_an_unfinished_generation_run_is_refused_with_what_to_do(reports):
    db, _, _ = reports
    with Store.open(db) as store:
        run_id, _ = store.generations.start("identity-of-an-unfinished-run", {"name": "half"})
        with pytest.raises(InputError, match=rf"generation run {run_id} has not finished"):
            build_report(store, run_id)


def test_an_unknown_run_id_is_not_found(reports):
    db, _, _ = reports
    with Store.open(db) as store, pytest.raises(NotFound, match=r"run_0123456789ab"):
        build_report(store, "run_0123456789ab")


def test_reproduce_command_carries_the_stored_options(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        demo = store.datasets.get(ids["demo"])
        pairs = store.datasets.get(ids["preference"])
    assert reproduce_command(demo) == f"synthgate audit {DEMO} --max-length 512"
    assert reproduce_command(pairs).endswith("--format preference --max-length 512")


def test_report_cli_writes_the_file_and_prints_its_path_last(reports):
    db, ids, tmp = reports
    out = tmp / "cli" / "demo.html"
    result = runner.invoke(app, ["report", ids["demo"], "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out)
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_report_cli_on_an_unknown_id_exits_2_naming_it(reports):
    db, _, _ = reports
    result = runner.invoke(app, ["report", "ds_000000000000", "--db", str(db)])
    assert result.exit_code == 2
    assert "ds_000000000000" in result.output


def test_audit_html_writes_the_report_and_keeps_the_dataset_id_last(tmp_path):
    data = write_jsonl(
        tmp_path / "one.jsonl", [{"prompt": "Name a prime number.", "completion": "Seven is prime."}]
    )
    out = tmp_path / "audit.html"
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["audit", str(data), "--html", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("ds_")
    assert f"HTML report: {out}" in result.output
    assert f"dataset {last}" in out.read_text()


def test_report_size_does_not_carry_records(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["demo"])
    assert len(html.encode()) < 150_000


def test_labelled_set_shows_a_persona_by_task_grid_and_critic_score_bars(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["generated"])
    grid = html[html.index('id="persona-task"') : html.index("</table>", html.index('id="persona-task"'))]
    cells = [int(v) for v in re.findall(r'data-value="(\d+)"', grid)]
    assert len(cells) == 3 * 2 and sum(cells) == 18
    chart = html[html.index('id="critic-chart"') : html.index("</svg>", html.index('id="critic-chart"'))]
    assert [int(v) for v in re.findall(r'data-value="(\d+)"', chart)] == [6, 6, 6]  # scores 3, 4, 5
    assert 'id="persona-task"' not in build_report_of(db, ids["demo"])  # no personas: no grid


def build_report_of(db, dataset_id: str) -> str:
    with Store.open(db) as store:
        return build_report(store, dataset_id)


def test_compare_of_two_versions_counts_members_and_their_changes(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        passing = store.versions.create("demo-pass", ids["demo"], include=["pass"])
        everything = store.versions.create("demo-all", ids["demo"], include=["pass", "fixed", "fail"])
        html = build_report(store, everything.id, compare=passing.id)
        fail_codes = store.versions.fail_code_counts(everything.id)
        added = store.versions.diff(passing.id, everything.id).added
    assert "Counts of members" in html
    # 14 more members, one of them an exact duplicate record: the same sample id, not an addition.
    assert len(added) == everything.samples - passing.samples - 1 == 13
    assert "members: 13 added, 0 removed, 0 changed" in html
    row = '<td class="mono">leak.system_prompt_verbatim</td><td class="n">0</td><td class="n">'
    assert row + f"{fail_codes['leak.system_prompt_verbatim']}</td>" in html


def test_a_chain_without_the_length_check_stores_no_counts_and_draws_no_histograms(tmp_path):
    from synthgate.audit.runner import AuditOptions, audit
    from synthgate.schemas.chain_config import ChainConfig

    data = write_jsonl(tmp_path / "one.jsonl", [{"prompt": "Name a prime.", "completion": "Seven is prime."}])
    chain = ChainConfig.model_validate({"order": ["thinking", "leakage"]})
    with Store.open(tmp_path / "n.duckdb") as store:
        ds = audit(data, store, AuditOptions(chain=chain)).dataset_id
        assert [r.tokens for r in store.samples.iter(ds)] == [None]
        html = build_report(store, ds)
    assert 'id="tokens"' not in html and "hist-total" not in html


def contamination_rows(html: str) -> dict[str, list[str]]:
    start = html.index('id="contamination-files"')
    table = html[start : html.index("</table>", start)]
    rows = re.findall(r'<tr data-file="([^"]+)">(.*?)</tr>', table, re.S)
    return {name: re.findall(r'<td class="n">([^<]*)</td>', cells) for name, cells in rows}


def test_contamination_hits_are_counted_per_eval_file_with_the_files_that_hit_nothing(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        html = build_report(store, ids["contaminated"])
    assert 'id="contamination"' in html
    # items, records hit, contam.exact_match records, items hit (share of the file's items)
    assert contamination_rows(html) == {
        "gsm8k_test_200.jsonl": ["200", "4", "4", "3 (1.5%)"],
        "mtbench_questions.jsonl": ["80", "1", "1", "1 (1.2%)"],
        "gsm8k_150_159.jsonl": ["10", "0", "0", "0 (0.0%)"],
    }
    assert 'id="contamination"' not in build_report_of(db, ids["demo"])  # no eval set: no table


def test_contamination_verdicts_name_the_eval_file_and_record_they_match(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        found = store.verdicts.for_dataset(ids["contaminated"], code_prefix="contam.")
        summary = store.datasets.get(ids["contaminated"]).summary
    refs = sorted((i, v.ref.source, v.ref.index) for i, v in found)
    assert refs == [
        (10, str(GSM8K), 5), (11, str(GSM8K), 6), (12, str(GSM8K), 7), (13, str(GSM8K), 6),
        (14, str(MTBENCH), 3),
    ]  # fmt: skip
    assert summary["eval_sets"][str(GSM8K)] == 200 and summary["eval_sets"][str(MTBENCH)] == 80


def test_compare_of_two_datasets_counts_added_removed_and_changed_records(reports, tmp_path):
    db, _, _ = reports
    old = hostile_records()
    new = [dict(r) for r in old]
    new[1]["completion"] = "A different answer to the same question."  # changed
    del new[7]  # removed
    new.append({"prompt": "Name a prime number.", "completion": "Seven is prime."})  # added
    with Store.open(db) as store:
        a = audited(store, write_jsonl(tmp_path / "old.jsonl", old))
        b = audited(store, write_jsonl(tmp_path / "new.jsonl", new))
        html = build_report(store, b, compare=a)
        diff = store.stats.record_diff(a, b)
    assert (diff.added, diff.removed, diff.changed, diff.same) == (1, 1, 1, 10)
    records = html[html.index('id="compare-records"') :]
    assert '<td class="n">1</td><td class="n">1</td><td class="n">1</td><td class="n">10</td>' in records
    assert "records: 1 added, 1 removed, 1 changed" in html


def test_compare_of_a_dataset_and_its_version_counts_the_records_the_version_left_out(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        version = store.versions.create("demo-passing", ids["demo"], include=["pass"])
        rows = list(store.samples.iter(ids["demo"]))
        html = build_report(store, version.id, compare=ids["demo"])
        diff = store.stats.record_diff(ids["demo"], version.id)
        members = {sid for (sid,) in store._con.fetchall(
            "SELECT sample_id FROM version_samples WHERE version_id = ?", [version.id]
        )}  # fmt: skip
    records = {r.sample.id for r in rows if r.sample is not None}
    assert members < records
    assert (diff.added, diff.removed, diff.same) == (0, len(records - members), len(members))
    assert diff.changed == 0
    assert "records / members" in html
    assert f"{diff.removed} removed" in html


def test_record_diff_of_two_versions_agrees_with_the_version_diff(reports):
    db, ids, _ = reports
    with Store.open(db) as store:
        a = store.versions.create("demo-pass-2", ids["demo"], include=["pass"])
        b = store.versions.create("demo-fixed", ids["demo"], include=["pass", "fixed"])
        diff, expected = store.stats.record_diff(a.id, b.id), store.versions.diff(a.id, b.id)
    assert (diff.added, diff.removed, diff.changed) == (
        len(expected.added),
        len(expected.removed),
        len(expected.changed),
    )
    assert diff.added > 0


def test_a_generation_run_reports_as_the_dataset_of_its_kept_samples(reports, gemma_tokenizer):
    db, ids, _ = reports
    run_id = ids["run"]
    with Store.open(db) as store:
        dataset = store.datasets.for_run(run_id)
        rows = list(store.samples.iter(dataset))
        scores = [r.sample.metadata.critic_scores for r in rows]
        html = build_report(store, run_id)
    assert f"dataset {dataset}" in html and f"synthgate runs show {run_id}" in html
    length = LengthValidator(LengthConfig(max_length=2048), tokenizer=gemma_tokenizer)
    assert len(rows) == 12
    # Token counts stored for generated records, as the chain's length check counted them.
    assert [r.tokens for r in rows] == [tuple(t) for t in length.token_counts([r.sample for r in rows])]
    grid = html[html.index('id="persona-task"') : html.index("</table>", html.index('id="persona-task"'))]
    assert sum(int(v) for v in re.findall(r'data-value="(\d+)"', grid)) == 12
    chart = html[html.index('id="critic-chart"') : html.index("</svg>", html.index('id="critic-chart"'))]
    assert [int(v) for v in re.findall(r'data-value="(\d+)"', chart)] == [12 - CRITIC_HIGH, CRITIC_HIGH]
    assert sorted({sum(s.values()) / len(s) for s in scores}) == [4.0, 5.0]
    assert 'id="hist-total"' in html
