# SPDX-License-Identifier: GPL-3.0-or-later
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.releases import superseded_releases


def _site(tmp_path, live="2", releases=("1", "2")):
    site = tmp_path / "shop"
    for rel in releases:
        (site / "releases" / rel / "public").mkdir(parents=True)
    os.symlink("releases/%s" % live, str(site / "current"))
    return str(site)


def test_scripts_of_an_old_release_are_superseded(tmp_path):
    site = _site(tmp_path)
    switched = os.lstat(site + "/current").st_mtime
    scripts = [{"full_path": site + "/releases/1/public/index.php", "last_used_timestamp": switched + 1},
               {"full_path": site + "/releases/1/src/A.php", "last_used_timestamp": switched - 100},
               {"full_path": site + "/releases/2/public/index.php"}]
    g, = superseded_releases(scripts)
    assert g["site"] == site and g["live_link"] == site + "/current"
    assert g["release"] == site + "/releases/1" and g["live_release"] == os.path.realpath(site + "/releases/2")
    assert g["scripts"] == [site + "/releases/1/public/index.php", site + "/releases/1/src/A.php"]
    assert g["count"] == 2 and g["used_since_switch"] == 1


def test_a_deleted_old_release_is_still_superseded(tmp_path):
    site = _site(tmp_path, releases=("2",))
    g, = superseded_releases([{"full_path": site + "/releases/1/public/index.php"}])
    assert g["release"] == site + "/releases/1"


def test_no_current_link_means_no_deploy_layout(tmp_path):
    # the lab's /srv/app/releases/a, b, c are served side by side: none supersedes another
    for rel in ("a", "b"):
        (tmp_path / "app" / "releases" / rel).mkdir(parents=True)
    scripts = [{"full_path": str(tmp_path / "app" / "releases" / r / "x.php")} for r in ("a", "b")]
    assert superseded_releases(scripts) == []


def test_a_current_directory_is_no_link(tmp_path):
    (tmp_path / "s" / "releases" / "1").mkdir(parents=True)
    (tmp_path / "s" / "current").mkdir()
    assert superseded_releases([{"full_path": str(tmp_path / "s" / "releases" / "1" / "x.php")}]) == []


def test_releases_inside_the_live_release_are_not_old_ones(tmp_path):
    # a vendor package with its own releases/ folder inside the live release
    site = _site(tmp_path)
    inner = site + "/releases/2/vendor/acme/releases/v1/A.php"
    assert superseded_releases([{"full_path": inner}]) == []


def test_a_release_nginx_serves_itself_is_not_superseded(tmp_path):
    # a preview vhost: root .../releases/1/public, beside the live site through current/
    site = _site(tmp_path)
    scripts = [{"full_path": site + "/releases/1/public/index.php"}]
    assert superseded_releases(scripts, served_roots=[site + "/releases/1/public", site + "/current/public"]) == []
    assert len(superseded_releases(scripts, served_roots=[site + "/current/public"])) == 1
