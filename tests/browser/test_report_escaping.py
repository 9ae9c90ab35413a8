"""Hostile posts appear as text, never as live markup, in every HTML report harmwatch writes.

The reports are produced by the real commands on ``tests/fixtures/hostile/`` (a landing zone whose
posts, labels and reporter ids carry script and event-handler payloads) and on a hostile CSV:

* ``validation``: ``harmwatch ingest`` + ``harmwatch validate`` (quarantined rows are quoted);
* ``drift-files``: ``harmwatch drift --reference ... --current hostile.csv`` (characteristic examples of
  the text-drift widget and the category names of the label plots quote the payloads);
* ``drift-lake``: ``harmwatch drift --reference ... --date 2026-01-01`` on the ingested landing zone.

Each page is opened in headless Chromium with the network cut off. The test fails if any payload runs
(``window.__pwned`` set, a dialog opened), if the page has script errors or asks for anything but
itself, if an element carries an event-handler attribute or a ``javascript:`` link, or if the payload
text is not visible at all (a page that dropped the data would pass the other checks trivially).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

VENV_BIN = Path(sys.executable).parent
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
PAYLOADS = [
    "<script>window.__pwned='s'</script>",
    "<img src=x onerror=window.__pwned='i'>",
    "</script><script>window.__pwned='b'</script><script>",
    "<svg onload=alert('svg')>",
    '"><iframe srcdoc="<script>parent.__pwned=1</script>">',
    "<a href=\"javascript:alert('a')\">click</a>",
]
LIVE_MARKUP = (
    "[onerror],[onload],[onmouseover],[onclick],[onfocus],iframe[srcdoc],a[href^='javascript:'],"
    "img[src='x'],img[src='q'],img[src='r']"
)


def _env(home: Path) -> dict[str, str]:
    keep = ("HARMWATCH_SHARED_DIR", "HARMWATCH_SOURCE_CSV")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMWATCH_") or k in keep}
    return {**env, "HARMWATCH_HOME": str(home)}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "harmwatch"), *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory: pytest.TempPathFactory, source_csv: Path) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    env = _env(tmp / "hw")
    shutil.copytree(FIXTURE, tmp / "landing")
    ingest = _cli(env, "ingest", "--landing", str(tmp / "landing"))
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    validate = _cli(env, "validate")
    assert validate.returncode in (0, 3), validate.stderr[-2000:]  # 3: a batch rejected, report still written
    ref = pd.read_csv(source_csv).rename(columns={"tweet_text": "text", "cyberbullying_type": "label"})
    ref.sample(400, random_state=1).to_csv(tmp / "ref.csv", index=False)
    hostile = pd.DataFrame(
        {"text": [f"{p} post {i}" for i in range(12) for p in PAYLOADS], "label": PAYLOADS * 12}
    )
    hostile.to_csv(tmp / "hostile.csv", index=False)
    reports = tmp / "hw" / "reports"
    files = _cli(
        env,
        "drift",
        "--reference",
        str(tmp / "ref.csv"),
        "--current",
        str(tmp / "hostile.csv"),
        "--out",
        str(reports / "drift" / "files"),
    )
    assert files.returncode == 0, files.stderr[-2000:]
    lake = _cli(env, "drift", "--reference", str(tmp / "ref.csv"), "--date", "2026-01-01")
    assert lake.returncode == 0, lake.stderr[-2000:]
    assert json.loads(lake.stdout.strip().splitlines()[-1])["rows_current"] >= 20
    return reports


def inspect_page(browser, path: Path) -> dict:
    """Open ``path`` offline, expand every tab, and report what ran and what is visible."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    seen: dict = {"dialogs": [], "errors": [], "requests": [], "text": ""}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)[:200]))

    def route(r):
        if r.request.url.startswith(("data:", "blob:")) or r.request.url == path.as_uri():
            return r.continue_()
        seen["requests"].append(r.request.url[:200])
        return r.abort()

    page.route("**/*", route)
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(1000)
        seen["text"] = page.inner_text("body")
        tabs = page.locator("[role=tab]")
        labels = [t.strip().lower() for t in tabs.all_inner_texts()]
        # Every tab once; a top-level "Tests" tab last, since it hides the metric widgets.
        for i in sorted(range(len(labels)), key=lambda i: labels[i] == "tests"):
            if tabs.nth(i).is_visible():
                tabs.nth(i).click(timeout=2000)
                seen["text"] += page.inner_text("body")
        seen["pwned"] = page.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
        seen["live"] = page.evaluate(f"() => document.querySelectorAll({json.dumps(LIVE_MARKUP)}).length")
    finally:
        page.close()
    return seen


@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("validation", "validation/**/*.html"),
        ("drift-files", "drift/files/*.html"),
        ("drift-lake", "drift/dt=*/*.html"),
    ],
)
def test_hostile_posts_are_inert_text_in_reports(browser, reports_dir, kind, pattern):
    pages = sorted(reports_dir.glob(pattern))
    assert pages, f"no {kind} report under {reports_dir}"
    for path in pages:
        seen = inspect_page(browser, path)
        where = f"{kind} report {path.relative_to(reports_dir)}"
        assert seen["pwned"] is None, f"{where}: payload ran (window.__pwned={seen['pwned']})"
        assert seen["dialogs"] == [], f"{where}: payload opened dialogs {seen['dialogs']}"
        assert seen["live"] == 0, f"{where}: hostile markup is live in the DOM"
        assert seen["errors"] == [], f"{where}: script errors {seen['errors']}"
        assert seen["requests"] == [], f"{where}: page fetched {seen['requests']} (must work offline)"
        assert "window.__pwned=" in seen["text"], f"{where}: hostile posts not shown as text at all"


def test_every_html_report_written_is_covered(reports_dir):
    """A new kind of HTML report must be added to the parametrisation above, not silently skipped."""
    covered = {"validation", "drift"}
    kinds = {p.relative_to(reports_dir).parts[0] for p in reports_dir.rglob("*.html")}
    assert kinds <= covered, f"HTML reports not checked in a browser: {sorted(kinds - covered)}"
