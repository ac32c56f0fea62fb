# SPDX-License-Identifier: GPL-3.0-or-later
"""The classes of real log shapes that issue 12 lists, each told by what its sample lines
look like, over the signature samples (tests/unit/fixtures/signatures): how many samples
each class has, how many near-misses beside them, and the sources cited above them.

    .venv/bin/python tests/unit/wild_shapes.py        # the table (PYTHONPATH as pytest sets it)

test_wild_shapes.py holds each class to a floor; the closing note of issue 12 quotes the table.
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from signature_samples import categories, load_commented_samples  # noqa: E402

_NGINX_HEADER = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: ")
_FPM_STAMP = re.compile(r"\[\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d")
_SYSLOG = re.compile(r"^(?:<\d+>)?(?:[A-Za-z\u0400-\u04ff\u3131-\uac00-\ud7a3.]+ +\d\d? \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) +\S*")
_STAMP_ANY = re.compile(r"\d\d:\d\d:\d\d|\[\s*\d+\.\d+\]")
_ENGLISH_MONTH = re.compile(r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ")
_KERNEL_CATS = ("kernel_segfault", "general_protection", "kernel_trap", "oom_kill")
_NGINX_CATS = ("upstream_reset", "upstream_prematurely_closed", "upstream_timeout", "upstream_connect_refused",
               "upstream_connect_eagain", "upstream_connect_enoent", "upstream_connect_eacces",
               "upstream_connect_other", "upstream_send_failed", "upstream_invalid_response",
               "upstream_too_big_header", "no_live_upstreams", "upstream_disabled", "client_abort",
               "fastcgi_stderr", "primary_script_unknown")
_FPM_CATS = ("child_signal", "child_exit_code", "child_stderr", "heap_corruption", "lifecycle", "max_children",
             "seems_busy", "exec_timeout", "slow_request", "ptrace_failed", "unknown_child")
_SOURCE = re.compile(r"#\d+|https?://|\w\.\w{2,}/|php-src|sapi/|\blab\b|\.[ch]\b|blog|archives/|bugs?\b")
_STORM_EVENTS = ("config_ok", "config_error", "init_failed", "listen_failed", "already_listening",
                 "reload_failed", "directive_ignored", "ipv6_fallback")


def _undated(line):
    return not _STAMP_ANY.search(line)


def _pasted(line):
    """A line as a person pasted it: a blank, a quote mark or bullet first, or a label."""
    if line[:1] in (" ", "\t", ">", "`", '"', "'", "-", "*"):
        return True
    label = re.match(r"^[A-Za-z][\w -]{0,30}: (?=\S)", line)
    return bool(label) and not _SYSLOG.match(line) and not _NGINX_HEADER.match(line)


# class -> (categories it is about, predicate on (category, line, expectation))
CLASSES = collections.OrderedDict([
    ("no timestamp (journalctl -o cat, docker logs, pasted)", (
        _FPM_CATS + _NGINX_CATS + _KERNEL_CATS + ("coredump",),
        lambda cat, line, exp: _undated(line) or _pasted(line))),
    ("php-fpm through syslog, PHP 5.3 stamps, debug decoration", (
        _FPM_CATS,
        lambda cat, line, exp: bool(_SYSLOG.match(line.lstrip("> `"))) or bool(re.search(r"\w\(\), line \d+: ", line))
        or bool(re.match(r"^\s*(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d\d? \d\d:\d\d:\d\d\.\d+ \[", line)))),
    ("php-fpm lifecycle behind a 502 storm", (
        ("lifecycle",),
        lambda cat, line, exp: (exp or {}).get("lifecycle_event") in _STORM_EVENTS
        or bool(re.search(r"test is successful|test failed|syntax is ok|initialization failed|unknown entry|"
                          r"can't be greater|bind|failed to listen|already listen|failed to reload|Reload failed|"
                          r"is ignored when|implicitly binding|failed to create new listening|Job for", line)))),
    ("kernel lines: no tag or stamp, blank host, other locales, other traps, OOM forms", (
        _KERNEL_CATS,
        lambda cat, line, exp: " kernel: " not in line or _undated(line) or "  kernel: " in line
        or bool(re.match(r"^[^\x00-\x7f]", line)) or (bool(_SYSLOG.match(line)) and not _ENGLISH_MONTH.match(line)
                                                      and not line[:4].isdigit())
        or cat in ("kernel_trap", "oom_kill"))),
    ("core dumps: older wordings, masked pid/uid, PID 1", (
        ("coredump",),
        lambda cat, line, exp: True)),
    ("nginx: Windows WSA errnos, wrapped, masked, cut lines", (
        _NGINX_CATS,
        lambda cat, line, exp: bool(re.search(r"\(100\d\d: ", line)) or not _NGINX_HEADER.match(line)
        or ", client: " not in line or bool(re.search(r"x\.x|\*\*\*|<[a-z ]+>|XX|\.\.\.$", line)))),
    ("signals other than SIGSEGV, '- core dumped'", (
        ("child_signal", "unknown_child"),
        lambda cat, line, exp: "core dumped" in line
        or not re.search(r"signal 11\b|SIGSEGV", line))),
])


def samples():
    """[(category, kind, expectation, line, source)]: every sample with the nearest comment
    above it when that comment names where the shape comes from (an issue, a page, a source
    file, the lab), else None (it only says why the line is there)."""
    out = []
    for cat in categories():
        for kind, exp, raw, dummy, comment in load_commented_samples(cat):
            source = comment if comment and _SOURCE.search(comment) else None
            out.append((cat, kind, exp, raw.decode("utf-8", "replace"), source))
    return out


def coverage():
    """class -> {"match": n, "near_miss": n, "sources": set of cited comments}"""
    table = collections.OrderedDict()
    every = samples()
    for name, (cats, pred) in CLASSES.items():
        row = {"match": 0, "near_miss": 0, "sources": set()}
        for cat, kind, exp, line, source in every:
            if cat not in cats:
                continue
            exp1 = exp[0] if isinstance(exp, list) and exp else exp
            if not pred(cat, line, exp1 if isinstance(exp1, dict) else None):
                continue
            if kind == "match":
                row["match"] += 1
                if source:
                    row["sources"].add(source)
            else:
                row["near_miss"] += 1
        table[name] = row
    return table


def main():
    print("| class | samples that match | near-misses | sources cited above them |")
    print("|---|---|---|---|")
    for name, row in coverage().items():
        print("| %s | %d | %d | %d |" % (name, row["match"], row["near_miss"], len(row["sources"])))
    print("\nall samples: %d" % len(samples()))


if __name__ == "__main__":
    main()
