# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""php_class_collisions module: every fail_json path, wiring, warnings, check mode."""

import json
import os

import pytest

from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import php_class_collisions
from module_runner import patch_exit_fail, run_main


@pytest.fixture
def module_io(monkeypatch):
    def with_warnings(module, result):
        result["warnings"] = list(ansible_warnings.get_warning_messages())

    patch_exit_fail(monkeypatch, on_exit=with_warnings)
    ansible_warnings._global_warnings.clear()
    yield
    ansible_warnings._global_warnings.clear()


def run_module(args):
    return run_main(php_class_collisions, args)


@pytest.fixture
def tree(tmp_path):
    def write(rel, text):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    write("releases/a/src/Kernel.php", "<?php namespace App; class Kernel {}")
    write("releases/b/src/Kernel.php", "<?php namespace App; class Kernel {}")
    write("releases/b/legacy/kernel.php", "<?php namespace App;\n\nfinal class KERNEL {}")
    write("releases/b/vendor/x/y.inc", "<?php namespace App; class Kernel {}")
    return tmp_path


def test_collisions_through_the_module(module_io, tree):
    result, failed = run_module({"roots": [str(tree / "releases/a"), str(tree / "releases/b")]})
    assert not failed
    assert result["changed"] is False
    (col,) = result["collisions"]
    assert col["key"] == "app\\kernel"
    assert col["root"] == str(tree / "releases/b")
    assert [(os.path.relpath(f["path"], str(tree)), f["line"], f["vendor"]) for f in col["files"]] == [
        ("releases/b/legacy/kernel.php", 3, False), ("releases/b/src/Kernel.php", 1, False)]
    assert result["files_scanned"] == 3
    assert result["scope"] == "per_root"
    assert isinstance(result["elapsed_s"], float)
    assert "warnings" in result and result["warnings"] == []
    json.dumps(result)


def test_options_reach_the_scanner(module_io, tree):
    result, failed = run_module({
        "roots": [str(tree)], "scope": "global", "extensions": ["php", "inc"],
        "exclude": ["legacy"], "workers": 1, "follow_symlinks": True,
        "short_open_tag": False, "php8": True, "max_file_size": 0,
    })
    assert not failed
    (col,) = result["collisions"]
    assert col["root"] is None
    assert len(col["files"]) == 3
    assert [f["vendor"] for f in col["files"]] == [False, False, True]


def test_release_warning_reaches_the_user(module_io, tree):
    result, failed = run_module({"roots": [str(tree)], "exclude": ["legacy"]})
    assert not failed
    assert result["collisions"][0]["across_releases"] is True
    assert any("release" in w for w in result["warnings"])


def test_missing_root_warns_and_scans_the_rest(module_io, tree):
    result, failed = run_module({"roots": [str(tree / "gone"), str(tree / "releases/b")]})
    assert not failed
    assert result["files_skipped"][0] == {"path": str(tree / "gone"), "reason": "root_missing"}
    assert result["warnings"] == ["root %s does not exist" % (tree / "gone")]
    assert len(result["collisions"]) == 1


def test_max_files_is_reported(module_io, tree):
    result, failed = run_module({"roots": [str(tree)], "max_files": 1})
    assert not failed
    assert result["truncated"] is True and result["files_scanned"] == 1


def test_check_mode_same_result(module_io, tree):
    args = {"roots": [str(tree / "releases/b")]}
    normal, dummy = run_module(args)
    ansible_warnings._global_warnings.clear()
    checked, failed = run_module(dict(args, _ansible_check_mode=True))
    assert not failed
    for res in (normal, checked):
        res.pop("elapsed_s")
    assert checked == normal


@pytest.mark.parametrize("args, message", [
    ({"roots": []}, "roots: at least one directory is needed, got an empty list"),
    ({"roots": ["relative/dir"]}, "roots: 'relative/dir' is not an absolute path"),
    ({"roots": ["/srv"], "workers": -1}, "workers: must be >= 0, got -1"),
    ({"roots": ["/srv"], "max_files": -5}, "max_files: -5 is not a number >= 0"),
    ({"roots": ["/srv"], "max_file_size": -1}, "max_file_size: -1 is not a number >= 0"),
    ({"roots": ["/srv"], "extensions": ["php/x"]}, "extensions: 'php/x' is not a file name extension"),
])
def test_bad_arguments_fail_with_a_named_parameter(module_io, args, message):
    result, failed = run_module(args)
    assert failed
    assert result["msg"] == message


def test_argument_spec_errors(module_io):
    result, failed = run_module({"roots": ["/srv"], "scope": "everywhere"})
    assert failed and "scope" in result["msg"] and "per_root" in result["msg"]
    result, failed = run_module({})
    assert failed and "roots" in result["msg"]
