"""Browser test: Playwright driving Debian's Chromium against the app under uvicorn.

A user browses to a dataset, the interactive plot renders (canvas, no console errors), logs in, files a
report, downloads a CSV subset and an ICARTT file, and logs out. Screenshots go to a temporary folder
(``CRAC_SCREENSHOTS`` to keep them elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import web_helpers as wh

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need_browser():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def test_browse_plot_report_download_login_logout(app, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("CRAC_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with wh.LiveServer(app) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        # a navigation that turns into a download is reported as aborted: not an error
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} {r.failure}")
                if "/download?" not in r.url else None)
        page.on("request", lambda r: errors.append(f"off-server request: {r.url}")
                if not r.url.startswith(srv.url) and not r.url.startswith("data:") else None)

        page.goto(srv.url + "/")
        assert page.locator("#map circle").count() == 1
        page.click("text=public_met")
        page.wait_for_url("**/datasets/public_met")
        assert page.locator(".gallery img").count() == 2
        page.screenshot(path=shots / "dataset.png", full_page=False)

        page.click("#plot-link")
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator("canvas").count() >= 1
        page.screenshot(path=shots / "plot.png", full_page=False)

        # log in as a member: the embargoed dataset appears
        page.click("#login-link")
        page.fill("#username", "alice")
        page.fill("#password", "alice-pw")
        page.click("#login-submit")
        page.wait_for_selector("#whoami")
        assert page.locator("text=public_embargo_met").count() >= 1

        # file a report
        page.goto(srv.url + "/reports/new?station=public")
        page.select_option("#r-kind", "daily")
        page.fill("#r-title", "Day 1 summary")
        page.fill("#r-body", "Clear sky, all instruments running.")
        page.click("#r-submit")
        page.wait_for_selector("text=Clear sky, all instruments running.")
        page.screenshot(path=shots / "report.png", full_page=False)

        # downloads through the form: a CSV subset and an ICARTT file
        page.goto(srv.url + "/datasets/public_met")
        page.select_option("#fmt", "csv")
        page.fill("#dl-start", "2024-03-10T06:00")
        page.fill("#dl-end", "2024-03-10T07:00")
        page.select_option("#dl-vars", ["AirTC_Avg", "RH"])
        with page.expect_download() as info:
            page.click("#dl-submit")
        csv = Path(info.value.path()).read_text()
        assert csv.splitlines()[-1] == "# end of data: complete, 60 records" and "time,AirTC_Avg,RH" in csv
        page.goto(srv.url + "/datasets/public_met")
        page.select_option("#fmt", "icartt")
        page.fill("#dl-start", "2024-03-10T06:00")
        page.fill("#dl-end", "2024-03-10T07:00")
        with page.expect_download() as info:
            page.click("#dl-submit")
        assert info.value.suggested_filename.endswith(".ict")
        assert "1001, V02_2016" in Path(info.value.path()).read_text().splitlines()[0]

        page.click("#logout")
        page.wait_for_selector("#login-link")
        assert page.locator("text=public_embargo_met").count() == 0
        browser.close()
    assert not errors, "\n".join(errors)
