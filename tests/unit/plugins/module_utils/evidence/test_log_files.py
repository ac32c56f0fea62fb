# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/log_files.py: patterns expanded, rotated siblings oldest first."""

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.log_files import expand_paths


def test_expand_paths_rotation_and_missing(tmp_path):
    for name in ("error.log", "error.log.1", "error.log.2.gz", "error.log.10.gz", "other.log"):
        (tmp_path / name).write_bytes(b"")
    files, missing = expand_paths([str(tmp_path / "error.log"), str(tmp_path / "nope*.log")])
    names = [os.path.basename(p) for p, _h in files]
    assert names == ["error.log.10.gz", "error.log.2.gz", "error.log.1", "error.log"]
    assert missing == [str(tmp_path / "nope*.log")]
    files, _m = expand_paths([str(tmp_path / "error.log")], include_rotated=False)
    assert [os.path.basename(p) for p, _h in files] == ["error.log"]
    files, _m = expand_paths([str(tmp_path / "*.log*"), str(tmp_path / "error.log")])
    assert len(files) == 5   # no duplicates
