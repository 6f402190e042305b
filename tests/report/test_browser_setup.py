"""Without a browser the browser tests skip saying how to install one, except under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_BROWSER_TEST = "tests/report/test_report_browser.py::test_compare_report_renders_both_sides"


def run_without_browser(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYNTHGATE_CHROMIUM": "/nonexistent/chromium", "CI": ci, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", ONE_BROWSER_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_browser_skips_with_how_to_install_it():
    proc = run_without_browser("false")
    assert proc.returncode == 0, proc.stdout
    assert "1 skipped" in proc.stdout
    assert "apt-get install -y chromium" in proc.stdout


def test_missing_browser_fails_under_ci():
    proc = run_without_browser("true")
    assert proc.returncode == 1, proc.stdout
    assert "browser tests cannot run under CI=true: no Chromium at /nonexistent/chromium" in proc.stdout
