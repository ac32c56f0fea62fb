# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnose/deploys.py: deploy sites and their releases from the disk (issue 10 point 4)."""
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose.deploys import (
    MAX_RELEASES, deploy_sites, release_script_counts, site_of_root,
)


def site(tmp_path, names=("1", "2", "10"), live="10"):
    top = tmp_path / "shop"
    for n in names:
        (top / "releases" / n / "public").mkdir(parents=True)
    if live:
        os.symlink("releases/" + live, str(top / "current"))
    return top


def test_a_root_through_current_and_a_root_in_a_release_belong_to_the_site(tmp_path):
    top = site(tmp_path)
    assert site_of_root(str(top / "current" / "public")) == str(top)
    assert site_of_root(str(top / "releases" / "2" / "public")) == str(top)
    assert site_of_root(str(top / "releases")) is None                 # the lab's layout: folders served by URL
    assert site_of_root(str(tmp_path)) is None


def test_a_symlinked_root_is_followed_into_the_site(tmp_path):
    top = site(tmp_path)
    os.symlink(str(top / "current" / "public"), str(tmp_path / "www"))
    assert site_of_root(str(tmp_path / "www")) == str(top)


def test_a_current_without_a_releases_dir_is_no_deploy(tmp_path):
    (tmp_path / "app" / "v1").mkdir(parents=True)
    os.symlink("v1", str(tmp_path / "app" / "current"))
    assert site_of_root(str(tmp_path / "app" / "current")) is None


def test_releases_numbered_in_order_with_the_live_one_and_what_serves_each(tmp_path):
    top = site(tmp_path)
    live_root, preview = str(top / "current" / "public"), str(top / "releases" / "2" / "public")
    (s,) = deploy_sites([live_root, preview, "/nowhere"])
    assert s["site"] == str(top) and s["live_link"] == str(top / "current")
    assert s["live_release"] == os.path.realpath(str(top / "releases" / "10"))
    assert [r["name"] for r in s["releases"]] == ["1", "2", "10"] and s["releases_total"] == 3
    assert [r["live"] for r in s["releases"]] == [False, False, True]
    assert [r["served_by"] for r in s["releases"]] == [[], [preview], [live_root]]
    assert s["roots"] == [live_root, preview] and s["error"] is None


def test_timestamp_releases_keep_the_most_recent(tmp_path):
    names = ["202612%02d120000" % d for d in range(1, MAX_RELEASES + 3)]
    top = site(tmp_path, names=names, live=names[-1])
    (s,) = deploy_sites([str(top / "current" / "public")])
    assert s["releases_total"] == MAX_RELEASES + 2
    assert [r["name"] for r in s["releases"]] == names[-MAX_RELEASES:]
    assert s["releases"][-1]["live"]


def test_an_unlistable_releases_dir_is_named(tmp_path, monkeypatch):
    top = site(tmp_path)

    def refuse(path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "scandir", refuse)
    (s,) = deploy_sites([str(top / "current" / "public")])
    assert s["releases"] == [] and s["error"] == str(top / "releases") + ": Permission denied"


def test_cached_scripts_are_counted_per_release_by_either_spelling(tmp_path):
    top = site(tmp_path)
    sites = deploy_sites([str(top / "current" / "public")])
    rel = dict((r["name"], r) for r in sites[0]["releases"])
    scripts = [{"full_path": rel["10"]["resolved"] + "/public/index.php"},
               {"full_path": rel["10"]["resolved"] + "/src/Cart.php"},
               {"full_path": rel["1"]["path"] + "/src/Cart.php"},
               {"full_path": str(top) + "/releases/100/x.php"},        # not release 10
               {"full_path": "/srv/other/index.php"}]
    assert release_script_counts(sites, scripts) == {rel["10"]["path"]: 2, rel["1"]["path"]: 1}
