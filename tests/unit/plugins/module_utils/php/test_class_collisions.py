# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""class_collisions: walking, scopes, grouping, skips, process pool."""

import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php import class_collisions as cc
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import (
    find_collisions,
    is_vendor_path,
    normalize_extensions,
    release_of,
    scan_file,
)


def write(root, rel, text):
    path = os.path.join(str(root), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def keys(result):
    return [c["key"] for c in result["collisions"]]


def test_same_fqn_in_two_files_is_a_collision_case_insensitively(tmp_path):
    a = write(tmp_path, "src/User.php", "<?php\nnamespace App;\n\nclass User {}\n")
    b = write(tmp_path, "lib/user.php", "<?php namespace app; CLASS USER {}")
    res = find_collisions([str(tmp_path)])
    (col,) = res["collisions"]
    assert col["key"] == "app\\user"
    assert col["name"] == "app\\USER"  # spelling of the first file by path
    assert col["spellings"] == ["app\\USER", "App\\User"]
    assert col["kinds"] == ["class"]
    assert col["root"] == str(tmp_path)
    assert [(f["path"], f["line"]) for f in col["files"]] == [(b, 1), (a, 4)]
    assert res["files_scanned"] == 2 and res["declarations"] == 2


def test_different_kinds_same_name(tmp_path):
    write(tmp_path, "a.php", "<?php namespace N; interface Thing {}")
    write(tmp_path, "b.php", "<?php namespace N; trait Thing {}")
    (col,) = find_collisions([str(tmp_path)])["collisions"]
    assert col["kinds"] == ["interface", "trait"]
    assert "spellings" not in col


def test_same_short_name_in_other_namespaces_is_not_a_collision(tmp_path):
    write(tmp_path, "a.php", "<?php namespace A; class User {}")
    write(tmp_path, "b.php", "<?php namespace B { class User {} }")
    write(tmp_path, "c.php", "<?php class User {}")
    assert find_collisions([str(tmp_path)])["collisions"] == []


def test_non_ascii_case_is_not_folded(tmp_path):
    write(tmp_path, "a.php", u"<?php class Äpfel {}")
    write(tmp_path, "b.php", u"<?php class äpfel {}")
    assert find_collisions([str(tmp_path)])["collisions"] == []


def test_text_that_only_looks_like_a_declaration_does_not_collide(tmp_path):
    write(tmp_path, "real.php", "<?php namespace App; class Cart {}")
    write(tmp_path, "doc.php", "<?php namespace App;\n/* class Cart {} */\n$x = 'class Cart {}';\n"
                               "$h = <<<EOT\nclass Cart {}\nEOT;\n$c = Cart::class;\n")
    write(tmp_path, "tpl.php", "<div class Cart>namespace App; class Cart {}</div>")
    assert find_collisions([str(tmp_path)])["collisions"] == []


def test_one_file_declaring_twice_is_not_a_collision(tmp_path):
    write(tmp_path, "a.php", "<?php if (PHP_VERSION_ID > 80000) { class P {} } else { class P {} }")
    assert find_collisions([str(tmp_path)])["collisions"] == []


def test_vendor_and_conditional_marks(tmp_path):
    write(tmp_path, "src/Psr.php", "<?php namespace Psr\\Log; interface LoggerInterface {}")
    write(tmp_path, "vendor/psr/log/src/LoggerInterface.php",
          "<?php namespace Psr\\Log;\nif (!interface_exists(LoggerInterface::class)) {\n"
          "  interface LoggerInterface {}\n}\n")
    (col,) = find_collisions([str(tmp_path)])["collisions"]
    assert [(f["vendor"], f["conditional"], f["line"]) for f in col["files"]] == [
        (False, False, 1), (True, True, 3)]
    assert col["all_vendor"] is False


def test_all_vendor(tmp_path):
    write(tmp_path, "vendor/a/X.php", "<?php class X {}")
    write(tmp_path, "vendor/b/X.php", "<?php class X {}")
    (col,) = find_collisions([str(tmp_path)])["collisions"]
    assert col["all_vendor"] is True


def test_is_vendor_path_needs_a_whole_segment():
    assert is_vendor_path("/srv/app/vendor/x.php")
    assert not is_vendor_path("/srv/app/vendors/x.php")
    assert not is_vendor_path("/srv/app/src/vendor.php")


# -- scopes and releases --------------------------------------------------------------

def make_releases(tmp_path, names=("a", "b", "c")):
    roots = []
    for name in names:
        write(tmp_path, "releases/%s/src/Kernel.php" % name, "<?php namespace App; class Kernel {}")
        roots.append(str(tmp_path / "releases" / name))
    return roots


def test_releases_as_roots_do_not_collide_per_root(tmp_path):
    roots = make_releases(tmp_path)
    res = find_collisions(roots)
    assert res["collisions"] == []
    assert [r["files"] for r in res["roots"]] == [1, 1, 1]


def test_global_scope_joins_roots(tmp_path):
    roots = make_releases(tmp_path, ("a", "b"))
    res = find_collisions(roots, scope="global")
    (col,) = res["collisions"]
    assert col["root"] is None and len(col["files"]) == 2
    assert len(res["roots"]) == 1


def test_root_containing_releases_flags_across_releases(tmp_path):
    make_releases(tmp_path)
    res = find_collisions([str(tmp_path)])
    (col,) = res["collisions"]
    assert col["across_releases"] is True and len(col["files"]) == 3
    assert any("release" in w for w in res["warnings"])


def test_collision_inside_one_release_is_real(tmp_path):
    make_releases(tmp_path, ("a", "b"))
    write(tmp_path, "releases/a/old/Kernel.php", "<?php namespace App; class Kernel {}")
    (col,) = find_collisions([str(tmp_path)])["collisions"]
    assert col["across_releases"] is False


def test_release_of():
    assert release_of("/srv/app/releases/42/src/a.php") == "/srv/app/releases/42"
    assert release_of("/srv/app/releases/a.php") is None
    assert release_of("/srv/app/src/a.php") is None


def test_overlapping_roots_read_each_file_once(tmp_path):
    write(tmp_path, "a/X.php", "<?php class X {}")
    write(tmp_path, "a/sub/X.php", "<?php class X {}")
    res = find_collisions([str(tmp_path / "a"), str(tmp_path / "a" / "sub")])
    assert res["files_scanned"] == 2
    assert [c["root"] for c in res["collisions"]] == [str(tmp_path / "a")]


# -- walking --------------------------------------------------------------------------

def test_extensions_and_case(tmp_path):
    write(tmp_path, "a.PHP", "<?php class X {}")
    write(tmp_path, "b.inc", "<?php class X {}")
    write(tmp_path, "c.txt", "<?php class X {}")
    assert find_collisions([str(tmp_path)])["collisions"] == []  # only a.PHP
    res = find_collisions([str(tmp_path)], extensions=["php", ".INC"])
    assert len(res["collisions"][0]["files"]) == 2


def test_exclude_by_name_and_relative_path(tmp_path):
    write(tmp_path, "src/X.php", "<?php class X {}")
    write(tmp_path, "tests/X.php", "<?php class X {}")
    write(tmp_path, "var/cache/prod/X.php", "<?php class X {}")
    res = find_collisions([str(tmp_path)], exclude=["tests", "var/cache/*"])
    assert res["collisions"] == [] and res["files_scanned"] == 1
    assert find_collisions([str(tmp_path)], exclude=[])["files_scanned"] == 3


def test_symlinked_file_not_followed_is_listed(tmp_path):
    real = write(tmp_path, "X.php", "<?php class X {}")
    os.symlink(real, str(tmp_path / "Y.php"))
    res = find_collisions([str(tmp_path)])
    assert res["collisions"] == []
    assert res["files_skipped"] == [{"path": str(tmp_path / "Y.php"), "reason": "symlink_not_followed"}]


def test_symlink_to_same_file_is_not_a_collision_when_followed(tmp_path):
    real = write(tmp_path, "X.php", "<?php class X {}")
    os.symlink(real, str(tmp_path / "Y.php"))
    res = find_collisions([str(tmp_path)], follow_symlinks=True)
    assert res["collisions"] == []
    assert res["files_skipped_by_reason"] == {"same_file": 1}


def test_hard_link_is_the_same_file(tmp_path):
    real = write(tmp_path, "X.php", "<?php class X {}")
    os.link(real, str(tmp_path / "Y.php"))
    res = find_collisions([str(tmp_path)])
    assert res["collisions"] == [] and res["files_scanned"] == 1


def test_symlink_loop_is_skipped(tmp_path):
    write(tmp_path, "app/X.php", "<?php class X {}")
    os.symlink(str(tmp_path), str(tmp_path / "app" / "loop"))
    os.symlink(".", str(tmp_path / "app" / "self"))
    res = find_collisions([str(tmp_path / "app")], follow_symlinks=True)
    assert res["collisions"] == [] and res["files_scanned"] == 1
    assert res["files_skipped_by_reason"]["symlink_loop"] >= 1
    # not followed: symlinked directories are not entered at all
    res = find_collisions([str(tmp_path / "app")])
    assert res["files_skipped"] == [] and res["files_scanned"] == 1


def test_symlinked_root_is_followed(tmp_path):
    write(tmp_path, "releases/a/X.php", "<?php class X {}")
    os.symlink(str(tmp_path / "releases" / "a"), str(tmp_path / "current"))
    assert find_collisions([str(tmp_path / "current")])["files_scanned"] == 1


def test_missing_root_is_a_warning(tmp_path):
    write(tmp_path, "X.php", "<?php class X {}")
    write(tmp_path, "file.php", "")
    res = find_collisions([str(tmp_path / "nope"), str(tmp_path / "file.php"), str(tmp_path)])
    assert res["files_scanned"] == 2
    assert [s["reason"] for s in res["files_skipped"]] == ["root_missing", "root_not_directory"]
    assert len(res["warnings"]) == 2


class _Clock(object):
    """A clock that moves one second each time it is read after ``start`` reads."""

    def __init__(self, start=0):
        self.reads, self.start = 0, start

    def __call__(self):
        self.reads += 1
        return max(0, self.reads - self.start)


def test_time_budget_while_listing_a_tree_without_php(tmp_path):
    """chdir = / walks the whole disk: directories with no PHP file still spend the budget."""
    for i in range(30):
        (tmp_path / "d{:02d}".format(i) / "x").mkdir(parents=True)
    write(tmp_path, "zz/a.php", "<?php class A {}")
    res = find_collisions([str(tmp_path)], max_seconds=5, clock=_Clock())
    assert res["truncated"] and res["truncated_by"] == "max_seconds"
    assert res["files_skipped_by_reason"] == {"max_seconds_reached": 1}
    assert any("max_seconds=5 reached" in w for w in res["warnings"])
    assert res["files_scanned"] == 0            # zz/ was never reached


def test_time_budget_while_reading_gives_a_partial_result(tmp_path):
    for i in range(6):
        write(tmp_path, "src/f%d.php" % i, "<?php namespace App; class Dup {}")
    clock = _Clock(start=10 ** 6)               # listing is free
    orig = cc.scan_file

    def slow_scan(path, *a, **kw):
        clock.start -= 10 ** 6                 # the first read spends the whole budget
        return orig(path, *a, **kw)
    from unittest import mock
    with mock.patch.object(cc, "scan_file", slow_scan):
        res = find_collisions([str(tmp_path)], max_seconds=3, clock=clock, workers=1)
    assert res["truncated_by"] == "max_seconds" and res["files_scanned"] < 6
    assert res["files_not_read"] == 6 - res["files_scanned"]
    assert any("files listed were read" in w for w in res["warnings"])


def test_no_budget_no_truncation(tmp_path):
    write(tmp_path, "a.php", "<?php class A {}")
    res = find_collisions([str(tmp_path)], clock=_Clock())
    assert not res["truncated"] and res["truncated_by"] is None and res["files_not_read"] == 0


def test_max_files(tmp_path):
    for i in range(5):
        write(tmp_path, "f%d.php" % i, "<?php class X {}")
    res = find_collisions([str(tmp_path)], max_files=3)
    assert res["files_scanned"] == 3 and res["truncated"] is True
    assert res["files_skipped_by_reason"] == {"max_files_reached": 1}
    assert any("max_files" in w for w in res["warnings"])


def test_max_file_size(tmp_path):
    write(tmp_path, "big.php", "<?php class X {}" + " " * 100)
    write(tmp_path, "small.php", "<?php class X {}")
    res = find_collisions([str(tmp_path)], max_file_size=50)
    assert res["collisions"] == []
    assert [s["reason"] for s in res["files_skipped"]] == ["too_large"]


def test_unreadable_file(tmp_path, monkeypatch):
    path = write(tmp_path, "X.php", "<?php class X {}")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cc, "open", denied, raising=False)
    assert scan_file(path) == ([], ("unreadable", "Permission denied"))


def test_prefilter_is_case_insensitive(tmp_path):
    path = write(tmp_path, "X.php", "<?php INTERFACE Upper {}")
    assert scan_file(path) == ([("interface", "Upper", "upper", 1, False)], None)
    assert scan_file(write(tmp_path, "t.php", "<?php echo 1;")) == ([], None)


def test_binary_and_invalid_utf8_files_do_not_stop_the_scan(tmp_path):
    write(tmp_path, "bin.php", b"\x00\xff\xfe<?php class \xff\xfe {} \x00")
    write(tmp_path, "X.php", "<?php class X {}")
    res = find_collisions([str(tmp_path)])
    assert res["files_scanned"] == 2 and res["declarations"] == 2


# -- arguments ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(roots=[]), "roots: at least one directory is needed"),
    (dict(roots=["relative/dir"]), "roots: 'relative/dir' is not an absolute path"),
    (dict(roots=["/x"], scope="everywhere"), "scope: 'everywhere' is not one of per_root, global"),
    (dict(roots=["/x"], max_files=-1), "max_files: -1 is not a number >= 0"),
    (dict(roots=["/x"], max_seconds=-1), "max_seconds: -1 is not a number >= 0"),
    (dict(roots=["/x"], max_file_size=-1), "max_file_size: -1 is not a number >= 0"),
    (dict(roots=["/x"], extensions=["*.php"]), "extensions: '*.php' is not a file name extension"),
    (dict(roots=["/x"], extensions=[]), "extensions: at least one extension is needed"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as info:
        find_collisions(**kwargs)
    assert str(info.value) == message


def test_normalize_extensions():
    assert normalize_extensions(["php", ".PHP", " inc "]) == (".php", ".inc")


# -- process pool ---------------------------------------------------------------------

def test_process_pool_gives_the_same_result(tmp_path, monkeypatch):
    for i in range(60):
        write(tmp_path, "a/F%d.php" % i, "<?php namespace N; class F%d {}" % i)
        write(tmp_path, "b/F%d.php" % (i % 7), "<?php namespace N; class F%d {}" % (i % 7))
    monkeypatch.setattr(cc, "_POOL_MIN_FILES", 10)
    monkeypatch.setattr(cc, "_BATCH", 8)
    import multiprocessing.context
    pools = []
    real_pool = multiprocessing.context.ForkContext.Pool

    def spy(self, *args, **kwargs):
        pools.append(args)
        return real_pool(self, *args, **kwargs)

    monkeypatch.setattr(multiprocessing.context.ForkContext, "Pool", spy)
    serial = find_collisions([str(tmp_path)], workers=1)
    assert pools == []
    pooled = find_collisions([str(tmp_path)], workers=2)
    assert pools == [(2,)]
    for res in (serial, pooled):
        res.pop("elapsed_s")
    assert pooled == serial
    assert len(serial["collisions"]) == 7
