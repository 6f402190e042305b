"""Audited sets for the report tests (built once per module) and one headless Chromium per session.

The browser is the Debian `chromium` package driven by playwright (playwright's own browser download
is not reachable here). Missing browser: the browser tests skip saying how to install it, except
under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_data import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO,
    GSM8K,
    MTBENCH,
    audited,
    contaminated_records,
    generated_records,
    generated_run,
    hostile_records,
    preference_records,
    write_jsonl,
)

from synthgate.store import Store


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One store holding the demo's poisoned set, a hostile set and a preference set, audited."""
    tmp = tmp_path_factory.mktemp("reports")
    db = tmp / "report.duckdb"
    with Store.open(db) as store:
        ids = {
            "demo": audited(store, DEMO),
            "hostile": audited(store, write_jsonl(tmp / "hostile.jsonl", hostile_records())),
            "generated": audited(store, write_jsonl(tmp / "generated.jsonl", generated_records())),
            "preference": audited(
                store, write_jsonl(tmp / "pairs.jsonl", preference_records()), fmt="preference"
            ),
            "contaminated": audited(
                store,
                write_jsonl(tmp / "contaminated.jsonl", contaminated_records()),
                eval_sets=(GSM8K, MTBENCH, unused_eval_file(tmp)),
            ),
            "run": generated_run(store, tmp),
        }
    return db, ids, tmp


def unused_eval_file(tmp: Path) -> Path:
    """An eval file no record copies: GSM8K questions 150-159."""
    lines = GSM8K.read_text().splitlines()[150:160]
    path = tmp / "gsm8k_150_159.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _missing_browser() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[dev]'"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return (
            f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (as root on "
            "Debian/Ubuntu; `make test` does it when it can) or set SYNTHGATE_CHROMIUM to its path"
        )
    return None


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (starting one costs about a second)."""
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI=true: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where each browser test leaves its screenshot (under pytest's tmp dir)."""
    return tmp_path_factory.mktemp("screenshots")
