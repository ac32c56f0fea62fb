# SPDX-License-Identifier: GPL-3.0-or-later
"""culprit/twins.py: the same bytes in several folders, cached at another size, is a suspect.

The sizes are those the lab's OPcache reported (php-fpm 8.2): TotalsTable.php cached at 3736
bytes in releases a and b, and at 4008 bytes in c, where a crashing version had been compiled
before the healthy file was put back on disk with its mtime."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit import twins as t
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.ranking import rank_candidates


def entry(path, size, **kw):
    d = {"full_path": path, "memory_consumption": size, "cached": True, "stale": "fresh", "mtime": 100}
    d.update(kw)
    return d


def disk(tmp_path, files):
    for rel, text in files.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return str(tmp_path)


def lab(tmp_path, c_text="<?php class TotalsTable {}\n"):
    root = disk(tmp_path, {"releases/a/src/Report/TotalsTable.php": "<?php class TotalsTable {}\n",
                           "releases/b/src/Report/TotalsTable.php": "<?php class TotalsTable {}\n",
                           "releases/c/src/Report/TotalsTable.php": c_text,
                           "releases/a/index.php": "<?php\n", "releases/b/index.php": "<?php\n",
                           "releases/c/index.php": "<?php\n"})
    return root, [entry(root + "/releases/a/src/Report/TotalsTable.php", 3736),
                  entry(root + "/releases/b/src/Report/TotalsTable.php", 3736),
                  entry(root + "/releases/c/src/Report/TotalsTable.php", 4008),
                  entry(root + "/releases/a/index.php", 400), entry(root + "/releases/b/index.php", 400),
                  entry(root + "/releases/c/index.php", 400)]


def test_the_odd_twin_is_the_suspect(tmp_path):
    root, cached = lab(tmp_path)
    found = t.divergent_twins(cached)
    assert list(found) == [root + "/releases/c/src/Report/TotalsTable.php"]
    assert found[root + "/releases/c/src/Report/TotalsTable.php"] == (
        "cached copy takes 4008 bytes; 2 twin(s) with the same bytes on disk take 3736")


def test_twins_that_differ_on_disk_are_a_real_change_not_a_suspect(tmp_path):
    root, cached = lab(tmp_path, c_text="<?php class TotalsTable { public $x; }\n")
    assert t.divergent_twins(cached) == {}


def test_unreadable_twins_are_not_judged(tmp_path):
    root, cached = lab(tmp_path)
    assert t.divergent_twins(cached, digest=lambda p: None if "/b/" in p else "same") == {}


def test_two_twins_that_disagree_are_both_suspects(tmp_path):
    root, cached = lab(tmp_path)
    two = [e for e in cached if "/a/" not in e["full_path"]]
    assert sorted(t.divergent_twins(two)) == [root + "/releases/b/src/Report/TotalsTable.php",
                                              root + "/releases/c/src/Report/TotalsTable.php"]


def test_groups_leave_out_one_folder_name_not_the_file_name():
    groups = t.twin_groups(["/srv/site1/app/x.php", "/srv/site2/app/x.php", "/srv/site1/app/y.php"])
    assert groups == {("/srv", "app/x.php"): ["/srv/site1/app/x.php", "/srv/site2/app/x.php"]}


def test_the_twin_suspect_ranks_right_after_the_include_set(tmp_path):
    root, cached = lab(tmp_path)
    suspect = root + "/releases/c/src/Report/TotalsTable.php"
    newer = root + "/releases/c/index.php"
    cached = [dict(e, mtime=900) if e["full_path"] == newer else e for e in cached]
    include = {suspect, newer}
    ranked = rank_candidates(cached, include=include, twins=t.divergent_twins(cached))
    assert [r["path"] for r in ranked[:2]] == [suspect, newer]
    assert ranked[0]["twin_differs"] and "twin(s)" in ranked[0]["reasons"][1]
    # without the signal the newer file would come first
    assert rank_candidates(cached, include=include)[0]["path"] == newer


def test_only_the_twins_that_disagree_are_read_from_disk(tmp_path):
    root, cached = lab(tmp_path)
    read = []
    t.divergent_twins(cached, digest=lambda p: read.append(p) or t.file_digest(p))
    assert sorted(read) == sorted(e["full_path"] for e in cached if "TotalsTable" in e["full_path"])
