# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of managed_file: reading config files that may not be regular files."""
import os
import threading

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.managed_file import (
    ManagedFileError, read_text, target)


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = str(tmp_path / "99-fifo.ini")
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            outcome.append(read_text(fifo))
        except ManagedFileError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))   # let the stuck reader go
        pytest.fail("read_text blocked on a FIFO")
    assert isinstance(outcome[0], ManagedFileError) and "not a regular file" in str(outcome[0])


def test_regular_file_binary_and_missing(tmp_path):
    (tmp_path / "a.ini").write_bytes(b"opcache.enable=1\n")
    assert read_text(str(tmp_path / "a.ini")) == ("opcache.enable=1\n", True)
    assert read_text(str(tmp_path / "new.ini")) == ("", False)
    (tmp_path / "b.ini").write_bytes(b"\0")
    with pytest.raises(ManagedFileError):
        read_text(str(tmp_path / "b.ini"))


def test_target_wraps_real_path_errors(tmp_path):
    os.symlink("gone.ini", str(tmp_path / "l.ini"))
    with pytest.raises(ManagedFileError) as info:
        target(str(tmp_path / "l.ini"), param="path")
    assert info.value.args[0].startswith("path: ") and "dangling" in info.value.args[0]
