"""The report opened offline (file://) in headless Chromium: it draws, runs no record's markup and
requests nothing but itself. Each test leaves a screenshot under pytest's tmp dir (printed on -s)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from report_data import CRITIC_HIGH, PLANTED_KEY, SCRIPT

from synthgate.report.html import HISTOGRAM_BINS, write_report
from synthgate.store import Store


@dataclass
class Opened:
    page: object
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def open_report(browser, reports, screenshots, request):
    """Write the report of a stored set, open it in a fresh page, and screenshot it when done."""
    db, ids, tmp = reports
    pages = []

    def _open(name: str, compare: str | None = None) -> tuple[Opened, Path]:
        path = tmp / f"{request.node.name}.html"
        with Store.open(db) as store:
            write_report(store, ids[name], path, compare=ids[compare] if compare else None)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        opened = Opened(page)
        page.on("console", lambda m: m.type == "error" and opened.console_errors.append(m.text))
        page.on("pageerror", lambda e: opened.page_errors.append(str(e)))
        page.on("request", lambda r: opened.requests.append(r.url))

        def on_dialog(d):
            opened.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        pages.append(page)
        return opened, path

    yield _open
    for page in pages:
        shot = screenshots / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        page.close()


def assert_clean(opened: Opened, path: Path) -> None:
    assert opened.console_errors == []
    assert opened.page_errors == []
    assert opened.dialogs == []
    assert opened.requests == [path.as_uri()]


def test_demo_report_draws_its_charts_offline_without_errors(open_report, reports):
    db, ids, _ = reports
    opened, path = open_report("demo")
    page = opened.page
    with Store.open(db) as store:
        codes = store.code_counts(ids["demo"])
        measured = store.stats.tokens(ids["demo"], 512).counted
    assert page.locator("#code-chart rect.bar").count() == len(codes)
    for part in ("prompt", "completion", "total"):
        assert page.locator(f"#hist-{part} rect.bar").count() == HISTOGRAM_BINS
        values = page.eval_on_selector_all(f"#hist-{part} rect.bar", "els => els.map(e => +e.dataset.value)")
        assert sum(values) == measured
        line = page.locator(f"#hist-{part} line.max-length")
        assert line.get_attribute("data-max-length") == "512"
        # Drawn where 512 tokens lie: inside the bar of the bin holding token 512.
        span = int(page.locator(f"#hist-{part} text").last.text_content())
        bin_index = 512 // (span // HISTOGRAM_BINS)
        bar = page.locator(f"#hist-{part} rect.bar").nth(bin_index).bounding_box()
        x = line.bounding_box()["x"]
        assert bar["x"] - 2 <= x <= bar["x"] + bar["width"] + 2
    marks = page.locator("mark")
    assert marks.count() >= 10
    assert all(t.strip() for t in marks.all_text_contents())
    assert_clean(opened, path)


def test_bar_click_opens_its_examples_and_the_filter_hides_other_codes(open_report):
    opened, path = open_report("demo")
    page = opened.page
    group = page.locator('details[data-code="think.unclosed"]')
    assert group.get_attribute("open") is None  # only the first groups start open
    page.locator('#code-chart rect[data-code="think.unclosed"]').click()
    assert group.evaluate("d => d.open") is True
    page.fill("#filter", "leak.")
    visible = page.eval_on_selector_all(
        "details.code-examples", "els => els.filter(e => e.style.display !== 'none').map(e => e.dataset.code)"
    )
    assert visible and all(c.startswith("leak.") for c in visible)
    assert opened.requests == [path.as_uri()]  # in-page navigation fetched nothing


def test_record_script_is_shown_as_text_and_never_runs_and_the_key_never_shows(open_report):
    opened, path = open_report("hostile")
    page = opened.page
    text = page.inner_text("body")
    assert SCRIPT in text
    assert page.evaluate("document.scripts.length") == 1
    assert page.locator("img").count() == 0
    for needle in (PLANTED_KEY, PLANTED_KEY[4:-2]):
        assert needle not in text
        assert needle not in page.content()
        assert needle not in path.read_text()
    assert_clean(opened, path)


def test_preference_report_renders_pair_statistics_cleanly(open_report):
    opened, path = open_report("preference")
    page = opened.page
    assert page.locator("#preference").is_visible()
    assert page.locator('#code-chart rect[data-code="pref.identical_pair"]').count() == 1
    assert_clean(opened, path)


def test_compare_report_renders_both_sides(open_report):
    opened, path = open_report("hostile", compare="demo")
    page = opened.page
    assert page.locator("#compare-status tr").count() == 4  # header + pass, fixed, fail
    assert page.locator("#compare-records td.n").count() == 4  # added, removed, changed, unchanged
    assert page.locator("#compare-codes tr").count() > 10
    assert_clean(opened, path)


def test_labelled_set_report_draws_its_grid_and_critic_bars(open_report):
    opened, path = open_report("generated")
    page = opened.page
    assert page.locator("#persona-task td.cell").count() == 6
    assert page.locator("#critic-chart rect.bar").count() == 3
    assert_clean(opened, path)


def test_generated_run_report_draws_its_heatmap_critic_scores_and_token_histograms(open_report, reports):
    db, ids, _ = reports
    opened, path = open_report("run")
    page = opened.page
    with Store.open(db) as store:
        dataset = store.datasets.for_run(ids["run"])
        personas = {r.sample.metadata.persona for r in store.samples.iter(dataset)}
        tasks = {r.sample.task_type for r in store.samples.iter(dataset)}
    cells = page.eval_on_selector_all("#persona-task td.cell", "els => els.map(e => +e.dataset.value)")
    assert len(cells) == len(personas) * len(tasks) and sum(cells) == 12
    critic = page.eval_on_selector_all("#critic-chart rect.bar", "els => els.map(e => +e.dataset.value)")
    assert critic == [12 - CRITIC_HIGH, CRITIC_HIGH]
    assert page.locator("#critic-chart rect.bar").first.bounding_box()["height"] > 0
    for part in ("prompt", "completion", "total"):
        values = page.eval_on_selector_all(f"#hist-{part} rect.bar", "els => els.map(e => +e.dataset.value)")
        assert len(values) == HISTOGRAM_BINS and sum(values) == 12
    assert_clean(opened, path)


def test_contamination_table_lists_every_eval_file(open_report):
    opened, path = open_report("contaminated")
    page = opened.page
    rows = "#contamination-files tr[data-file]"
    files = page.eval_on_selector_all(rows, "els => els.map(e => e.dataset.file)")
    assert files == ["gsm8k_test_200.jsonl", "mtbench_questions.jsonl", "gsm8k_150_159.jsonl"]
    assert page.locator("#contamination-files").is_visible()
    assert_clean(opened, path)
