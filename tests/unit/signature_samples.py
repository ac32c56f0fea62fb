# SPDX-License-Identifier: GPL-3.0-or-later
"""The sample lines of tests/unit/fixtures/signatures/<category>.log with their expectation
comments (fail2ban style, see the README there), for the signature tests and the timing
tests that build hostile lines from them."""
import glob
import json
import os
import re

from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "signatures")
_RE_EXPECT = re.compile(rb"^# (match|no-match)(?::\s*(.*))?$")


def load_samples(category):
    """[(kind, expectation, raw_line_bytes, line_no)] from <category>.log."""
    return [s[:4] for s in load_commented_samples(category)]


def load_commented_samples(category):
    """[(kind, expectation, raw_line_bytes, line_no, comment)] from <category>.log, where
    ``comment`` is the nearest free comment above the sample (str, or None): where the
    line shape comes from, or why the line is there."""
    path = os.path.join(FIXTURES, category + ".log")
    samples = []
    pending = None
    comment = None
    with open(path, "rb") as f:
        for no, raw in enumerate(f.read().split(b"\n"), 1):
            if pending is not None:
                samples.append((pending[0], pending[1], raw, no, comment))
                pending = None
                continue
            m = _RE_EXPECT.match(raw)
            if m:
                kind = m.group(1).decode()
                arg = json.loads(m.group(2).decode("utf-8")) if m.group(2) else None
                pending = (kind, arg)
            elif raw.startswith(b"# "):
                comment = raw[2:].decode("utf-8", "replace").strip()
    assert pending is None, "%s: expectation comment at end of file without a line" % path
    return samples


def categories():
    """The categories that have a sample file, in name order."""
    return sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(FIXTURES, "*.log")))
