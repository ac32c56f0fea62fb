# SPDX-License-Identifier: GPL-3.0-or-later
"""Following a growing log (evidence/follow.py): rotation by rename, copytruncate, a file
that appears later, special files, and journald records that may or may not be trusted."""
import json
import os
import threading

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.follow import (
    MAX_LINE, FileFollower, journal_message)


def write(path, data, mode="ab"):
    with open(path, mode) as f:
        f.write(data)


def test_starts_at_the_end_and_reads_only_new_complete_lines(tmp_path):
    log = tmp_path / "error.log"
    write(log, b"old 1\nold 2\n")
    f = FileFollower(str(log))
    assert f.poll() == []
    write(log, b"new 1\nnew 2\npart")
    assert f.poll() == [b"new 1", b"new 2"]
    write(log, b"ial\n")
    assert f.poll() == [b"partial"]
    assert f.problem is None


def test_rotation_by_rename_drains_the_old_file_then_reads_the_new_one_from_its_start(tmp_path):
    log = tmp_path / "error.log"
    write(log, b"")
    f = FileFollower(str(log))
    write(log, b"before\n")
    assert f.poll() == [b"before"]
    os.rename(str(log), str(tmp_path / "error.log.1"))
    write(tmp_path / "error.log.1", b"late in the old file\n")      # written before the reopen
    write(log, b"first of the new file\nsecond\n", mode="wb")
    assert f.poll() == [b"late in the old file", b"first of the new file", b"second"]
    assert f.rotations == 1
    write(log, b"third\n")
    assert f.poll() == [b"third"]


def test_copytruncate_reads_again_from_the_top(tmp_path):
    log = tmp_path / "error.log"
    write(log, b"x" * 100 + b"\n")
    f = FileFollower(str(log))
    with open(str(log), "r+b") as fh:
        fh.truncate(0)
    write(log, b"after truncate\n")
    assert f.poll() == [b"after truncate"]
    assert f.truncations == 1


def test_a_missing_file_is_named_and_read_from_its_start_once_it_exists(tmp_path):
    log = tmp_path / "later.log"
    f = FileFollower(str(log))
    assert f.poll() == []
    assert f.problem == "cannot open: No such file or directory"
    write(log, b"hello\n")
    assert f.poll() == [b"hello"]
    assert f.problem is None


def test_a_fifo_is_not_read_and_does_not_hang(tmp_path):
    """In a thread with a deadline, so that a regression fails instead of hanging the run
    (the FIFO is then opened for writing to free the blocked open)."""
    fifo = tmp_path / "error.log"
    os.mkfifo(str(fifo))
    out = {}

    def body():
        f = FileFollower(str(fifo))
        out["lines"], out["problem"] = f.poll(), f.problem
    t = threading.Thread(target=body, name="follow-under-test")
    t.daemon = True
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(str(fifo), os.O_RDWR | os.O_NONBLOCK))
        t.join(5)
        pytest.fail("FileFollower did not return within 10 s (blocked on a FIFO)")
    assert out == {"lines": [], "problem": "not a regular file: FIFO"}


def test_an_endless_line_is_cut_to_its_head(tmp_path):
    log = tmp_path / "error.log"
    write(log, b"")
    f = FileFollower(str(log))
    write(log, b"A" * (3 * MAX_LINE) + b"\nnext\n")
    lines = f.poll()
    assert lines[0] == b"A" * MAX_LINE
    assert lines[-1] == b"next"
    assert all(len(x) <= MAX_LINE for x in lines)


CRASH = "[WARNING] [pool www] child 7 exited on signal 11 (SIGSEGV) after 3.1 seconds from start"


@pytest.mark.parametrize("record,expected", [
    ({"MESSAGE": CRASH, "_UID": "0", "SYSLOG_IDENTIFIER": "php-fpm", "_TRANSPORT": "syslog"}, CRASH.encode()),
    ({"MESSAGE": "php-fpm8.2[5]: segfault at 0", "_TRANSPORT": "kernel"}, b"php-fpm8.2[5]: segfault at 0"),
    ({"MESSAGE": list(b"child 7 \xff said"), "_UID": "0"}, b"child 7 \xff said"),
    # `logger -t php-fpm` by a local user: journald stamps the user's own uid
    ({"MESSAGE": CRASH, "_UID": "1000", "SYSLOG_IDENTIFIER": "php-fpm", "_TRANSPORT": "syslog"}, None),
    ({"MESSAGE": CRASH, "SYSLOG_IDENTIFIER": "php-fpm"}, None),
    ({"MESSAGE": 12, "_UID": "0"}, None),
    ({"MESSAGE": [256, 1], "_UID": "0"}, None),
])
def test_journal_records_are_kept_only_when_root_or_the_kernel_wrote_them(record, expected):
    assert journal_message(json.dumps(record)) == expected


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"MESSAGE": '])
def test_garbage_from_journalctl_is_no_record(text):
    assert journal_message(text) is None
