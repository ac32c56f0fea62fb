# SPDX-License-Identifier: GPL-3.0-or-later
"""report.html of 1,000 hosts in a real browser (headless Chromium, issue 14): the fleet summary
shows first with the right counts, healthy hosts are collapsed, the search box and the verdict
filter narrow the host sections and count them, a #q= link pre-filters, a #host- link opens a
collapsed host, and the page's one inline script runs under its CSP (allowed by its hash: no
violation is logged)."""
import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import SCRIPT, script_hash

# The host sections the reader can see: in the layout, not inside a closed <details>.
VISIBLE_HOSTS = """return Array.prototype.filter.call(document.querySelectorAll("details.host"),
    function (e) { return e.checkVisibility(); }).map(function (e) { return e.id.slice(5); });"""

# The text of each element a CSS selector finds, in document order (one round trip).
TEXTS = """return Array.prototype.map.call(document.querySelectorAll(arguments[0]),
    function (e) { return e.textContent; });"""


def open_report(driver, html, fragment=""):
    driver.get("file://%s%s" % (html, fragment))
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "filter").is_displayed())


def shown(driver):
    return driver.find_element(By.ID, "shown").text


def csp_messages(driver):
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_summary_is_first_with_the_fleet_counts(browser, fleet):
    report, html = fleet
    open_report(browser, html)
    summary = browser.find_element(By.ID, "summary")
    first_host = browser.find_element(By.CSS_SELECTOR, "details.host")
    assert summary.is_displayed()
    assert summary.location["y"] < browser.find_element(By.ID, "filter").location["y"] < first_host.location["y"]
    rows = browser.execute_script(TEXTS, "#summary table.counts td")
    counts = dict(zip(rows[::2], [int(n) for n in rows[1::2]]))
    assert counts == report["fleet"]["verdict_counts"] and sum(counts.values()) == 1000
    attention = [h for h in report["hosts"] if h["verdict"] != "healthy"]
    listed = browser.execute_script(TEXTS, "#attention tr td:first-child a")
    assert len(listed) == len(attention) == 1000 - counts["healthy"]
    # most urgent first: priority high (a master down first of all), medium, no result, low
    by_name = dict((h["name"], h) for h in report["hosts"])
    ranks = [{"high": 0, "medium": 1, None: 2, "low": 3}[by_name[name]["priority"]] for name in listed]
    assert ranks == sorted(ranks) and set(ranks) == {0, 1, 2, 3}
    down = [h["name"] for h in report["hosts"] if h["verdict"] == "down"]
    assert down and listed[:len(down)] == down
    assert shown(browser) == "1000 of 1000 hosts shown"


def test_healthy_hosts_are_collapsed(browser, fleet):
    report, html = fleet
    open_report(browser, html)
    healthy = browser.find_element(By.ID, "healthy")
    assert healthy.is_displayed() and healthy.get_attribute("open") is None
    visible = browser.execute_script(VISIBLE_HOSTS)
    assert sorted(visible) == sorted(h["name"] for h in report["hosts"] if h["verdict"] != "healthy")
    one = next(h["name"] for h in report["hosts"] if h["verdict"] == "healthy")
    assert not browser.find_element(By.ID, "host-" + one).is_displayed()


def test_search_narrows_to_one_host(browser, fleet):
    report, html = fleet
    open_report(browser, html)
    name = next(h["name"] for h in report["hosts"] if h["verdict"] == "healthy")
    browser.find_element(By.ID, "q").send_keys(name)
    WebDriverWait(browser, 5).until(lambda d: shown(d) == "1 of 1000 hosts shown")
    assert browser.execute_script(VISIBLE_HOSTS) == [name]
    assert browser.find_element(By.ID, "host-" + name).is_displayed()  # its collapsed group opened
    assert not browser.find_element(By.ID, "attention-hosts").is_displayed()  # nothing to show there
    assert "#q=" + name in browser.current_url  # a link to this view


def test_verdict_filter_shows_that_verdict_only(browser, fleet):
    report, html = fleet
    open_report(browser, html)
    pick = Select(browser.find_element(By.ID, "verdict"))
    for verdict in ("down", "misconfig", "opcache_suspect", "unexplained", "healthy"):
        pick.select_by_value(verdict)
        want = sorted(h["name"] for h in report["hosts"] if h["verdict"] == verdict)
        WebDriverWait(browser, 5).until(lambda d: shown(d) == "%d of 1000 hosts shown" % len(want))
        assert sorted(browser.execute_script(VISIBLE_HOSTS)) == want, verdict
    # the filter cleared: everything back, healthy hosts collapsed again
    pick.select_by_value("")
    WebDriverWait(browser, 5).until(lambda d: shown(d) == "1000 of 1000 hosts shown")
    assert browser.find_element(By.ID, "healthy").get_attribute("open") is None


def test_a_link_with_a_filter_opens_filtered(browser, fleet):
    report, html = fleet
    capacity = [h["name"] for h in report["hosts"] if h["verdict"] == "capacity"]
    open_report(browser, html, "#q=%s&v=capacity" % capacity[0])
    WebDriverWait(browser, 5).until(lambda d: shown(d) == "1 of 1000 hosts shown")
    assert browser.execute_script(VISIBLE_HOSTS) == [capacity[0]]
    assert browser.find_element(By.ID, "q").get_attribute("value") == capacity[0]


def test_a_link_to_a_collapsed_host_opens_it(browser, fleet):
    report, html = fleet
    name = [h["name"] for h in report["hosts"] if h["verdict"] == "healthy"][-1]
    open_report(browser, html, "#host-" + name)
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "host-" + name).is_displayed())
    assert browser.find_element(By.ID, "host-" + name).get_attribute("open") is not None
    assert shown(browser) == "1000 of 1000 hosts shown"


def test_the_script_runs_under_the_csp(browser, fleet):
    """The filter form is un-hidden by the script only: shown means the script ran; and the
    browser logged no CSP violation. The same page with another hash logs one (the check works)."""
    report, html = fleet
    browser.get_log("browser")  # drop earlier entries
    open_report(browser, html)
    assert csp_messages(browser) == []
    with open(html, encoding="utf-8") as fh:
        page = fh.read()
    assert page.count(script_hash()) == 1 and page.count(SCRIPT) == 1
    broken = html.replace("report.html", "broken.html")
    with open(broken, "w", encoding="utf-8") as fh:
        fh.write(page.replace(script_hash(), script_hash(SCRIPT + " ")))
    browser.get("file://" + broken)
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "summary").is_displayed())
    assert not browser.find_element(By.ID, "filter").is_displayed()  # the page still reads, unfiltered
    refused = [m for m in csp_messages(browser) if re.search(r"inline script violates", m)]
    # Chromium names the hash the script has: the one the report computed
    assert refused and script_hash().strip("'") in refused[0]
