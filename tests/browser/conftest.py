# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the browser tests: a 1,000-host report written by the report code end to end
(bench/report_bench.py's generator and writer) and headless Chromium driven by selenium.

Chromium and its driver are Debian's packages (``chromium``, ``chromium-driver``; make setup
installs them). A machine without them FAILS these tests: it cannot prove the page works.
"""
import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import report_bench  # noqa: E402  (bench/report_bench.py: generate_hosts, write_fleet_report)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTS = 1000


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """(report dict, path of report.html) of 1,000 generated hosts."""
    hosts, dummy = report_bench.generate_hosts(HOSTS)
    report, files, dummy = report_bench.write_fleet_report(hosts, str(tmp_path_factory.mktemp("reports")))
    return report, files["html"]


def chrome_options():
    from selenium import webdriver
    opts = webdriver.ChromeOptions()
    # The machine's network is closed: without the background-networking switches Chromium
    # waits on refused connections (component updates, sync, first-run probes).
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return opts


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium with a fresh profile; its console log is readable (get_log('browser'))."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    assert not missing, "%s missing: apt-get install chromium chromium-driver (make setup does)" % ", ".join(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="report-browser-")
    opts = chrome_options()
    opts.add_argument("--user-data-dir=%s" % profile)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
