# SPDX-License-Identifier: GPL-3.0-or-later
"""The release table of a deploy site (issue 10 point 4): releases/<timestamp> + current, read
from the disk by diagnose_host; the live release judged on the pools behind the roots that
resolve into it, an old release by what OPcache still holds of it. On the lab-web2 capture
(pool www crashing), with nginx serving the site through current/public."""
import copy
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report, evaluate_host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import render_html, render_markdown
from unit_paths import FIXTURES_ROOT

SITE = "/var/www/shop"
OLD, LIVE = SITE + "/releases/20261201093000", SITE + "/releases/20261206120000"
ROOT = SITE + "/current/public"


def deploy_host(crashes=True):
    with open(os.path.join(FIXTURES_ROOT, "diagnose", "lab-web2.json")) as fh:
        raw = copy.deepcopy(json.load(fh))
    nginx = raw["discovery"]["nginx"]
    # the app is served as a deploy: one vhost, root through current/
    nginx["fastcgi_targets"] = [dict(nginx["fastcgi_targets"][0], root=ROOT, location="~ \\.php$"),
                                # another site on the host, another pool: not the release's
                                dict(nginx["fastcgi_targets"][0], root="/srv/blog", pool="blog",
                                     target="unix:/run/php-fpm/blog.sock")]
    if not crashes:
        raw["evidence"].update(incidents=[], events=[])
    raw["deploys"] = [{
        "site": SITE, "live_link": SITE + "/current", "live_release": LIVE, "switched_at": 1796558400,
        "roots": [ROOT], "releases_total": 2, "error": None,
        "releases": [{"name": "20261201093000", "path": OLD, "resolved": OLD, "live": False, "served_by": []},
                     {"name": "20261206120000", "path": LIVE, "resolved": LIVE, "live": True, "served_by": [ROOT]}]}]
    master = raw["opcache"]["masters"][0]
    master["release_scripts"] = {OLD: 3, LIVE: 12}
    master["superseded_releases"] = [{"site": SITE, "release": OLD, "live_link": SITE + "/current", "live_release": LIVE,
                                      "switched_at": 1796558400, "count": 3, "used_since_switch": 2,
                                      "scripts": [OLD + "/src/Cart.php"]}]
    return raw


def releases(entry):
    (site,) = entry["deploys"]
    return site, dict((r["name"], r) for r in site["releases"])


def test_each_release_says_whether_it_is_live_served_or_still_cached():
    site, rel = releases(evaluate_host(deploy_host()))
    assert site["site"] == SITE and site["live_release"] == LIVE and site["switched_at"].startswith("2026-12-")
    old, live = rel["20261201093000"], rel["20261206120000"]
    assert (old["state"], old["cached_scripts"], old["served_since_switch"]) == ("old_served", 3, 2)
    assert (live["state"], live["cached_scripts"], live["live"]) == ("live", 12, True)


def test_the_live_release_is_judged_on_the_pools_behind_its_root():
    site, rel = releases(evaluate_host(deploy_host()))
    live, old = rel["20261206120000"], rel["20261201093000"]
    assert live["pools"] == ["www"] and live["crashes"] > 0 and live["verdict"] not in (None, "healthy")
    assert old["verdict"] is None and old["crashes"] == 0
    site, rel = releases(evaluate_host(deploy_host(crashes=False)))
    assert rel["20261206120000"]["verdict"] == "healthy" and rel["20261206120000"]["crashes"] == 0


def test_an_old_release_nothing_holds_is_old():
    raw = deploy_host()
    raw["opcache"]["masters"][0].update(release_scripts={LIVE: 12}, superseded_releases=[])
    site, rel = releases(evaluate_host(raw))
    assert rel["20261201093000"]["state"] == "old" and rel["20261201093000"]["cached_scripts"] == 0


def test_the_release_table_is_in_both_reports():
    report = build_report([deploy_host()], "2026-12-06T12:01:40Z")
    md, html = render_markdown(report), render_html(report)
    assert "Deploy site `%s`: `%s/current` -> `%s`, switched `2026-12-06T12:00:00+00:00`" % (SITE, SITE, LIVE) in md
    assert ("Deploy site <code>%s</code>: <code>%s/current</code> -> <code>%s</code>" % (SITE, SITE, LIVE)) in html
    assert "OLD, STILL SERVED" in html and "live (current)" in html
    assert "| `20261201093000` | OLD, STILL SERVED | - | 3 | 2 | - | 0 | 0 |" in md


def test_the_json_schema_holds_the_release_table():
    import jsonschema
    from unit_paths import PROJECT_ROOT
    with open(os.path.join(PROJECT_ROOT, "docs", "report-schema.json")) as fh:
        schema = json.load(fh)
    rep = json.loads(json.dumps(build_report([deploy_host()], "2026-12-06T12:01:40Z")))
    jsonschema.validate(rep, schema)
    rep["hosts"][0]["deploys"][0]["releases"][0]["state"] = "stale"
    try:
        jsonschema.validate(rep, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("an unknown release state passed the schema")
