#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mutation run: each deliberate bug of tests/mutants/mutants.json must make a unit test fail.

    .venv/bin/python scripts/mutants.py            # all (make mutants)
    .venv/bin/python scripts/mutants.py -k ini     # those whose group or file contains "ini"

Each mutant is (file, old text, new text; optionally the tests to run, when only a few
cover that file): a plain replace of text found exactly once. The
run works on a copy of plugins/, tests/ and pytest.ini in a temporary directory (the checkout
is never touched, even when the run is interrupted), applies one mutant at a time, runs the
unit tests of the mutated file's area (-x, stop at the first failure) and restores the file.
Mutants run side by side, one per CPU (at most 4; -j), each in its own copy of the tree.
A mutant whose tests all pass SURVIVED: the run ends with exit status 1 and lists them. A
mutant whose old text is not found exactly once is an error (the code moved on: update the
list), status 2.
"""
import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MUTANTS = os.path.join(ROOT, "tests", "mutants", "mutants.json")
UNIT = "tests/unit/plugins"


def test_targets(path):
    """The unit tests that cover ``path`` (a file of the collection or of tests/)."""
    parts = path.split("/")
    if parts[:2] == ["plugins", "module_utils"]:
        return ["%s/module_utils/%s" % (UNIT, parts[2]), "%s/modules" % UNIT, "%s/filter" % UNIT,
                "%s/action" % UNIT]
    if parts[:2] == ["plugins", "modules"]:
        return ["%s/modules" % UNIT]
    if parts[:2] in (["plugins", "action"], ["plugins", "filter"]):
        return ["%s/%s" % (UNIT, parts[1])]
    if parts[:2] == ["extensions", "eda"]:
        return ["tests/unit/extensions/eda"]
    return ["tests/unit"]


def copy_tree(dest):
    """The checkout's files as they are now (tracked or new, not ignored) under ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            stdout=subprocess.PIPE, check=True).stdout.decode("utf-8").split("\0")
    for rel in listed:
        src = os.path.join(ROOT, rel)
        if not rel or not os.path.isfile(src) or os.path.islink(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel))
    link = os.path.join(dest, ".collections", "ansible_collections", "phpfpm")
    os.makedirs(link)
    os.symlink(os.path.join("..", "..", ".."), os.path.join(link, "opcache_fleet"))


def run_tests(work, targets):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"] + targets,
                          cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return proc.returncode, failed, lines[-1] if lines else ""


def try_mutant(work, m):
    """Apply ``m`` in the tree ``work``, run its tests, restore. (status, first failure or "")."""
    path = os.path.join(work, m["file"])
    with open(path, encoding="utf-8") as fh:
        original = fh.read()
    if original.count(m["old"]) != 1:
        return "not found", ""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(original.replace(m["old"], m["new"]))
    try:
        rc, failed, _last = run_tests(work, m.get("tests") or test_targets(m["file"]))
    finally:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(original)
    return ("killed" if rc else "survived"), (failed[0].split(" ")[1] if rc and failed and " " in failed[0] else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", default="", help="only mutants whose group or file contains this text")
    parser.add_argument("-j", type=int, default=min(4, os.cpu_count() or 1), help="mutants run at once")
    args = parser.parse_args()
    with open(MUTANTS) as fh:
        mutants = [m for m in json.load(fh) if args.k in m["group"] or args.k in m["file"]]
    jobs = max(1, min(args.j, len(mutants)))
    trees = [tempfile.mkdtemp(prefix="opcache-fleet-mutants-") for _ in range(jobs)]
    results = {}
    lock = threading.Lock()
    todo = queue.Queue()
    for i, m in enumerate(mutants, 1):
        todo.put((i, m))
    start = time.time()

    def worker(work):
        while True:
            try:
                i, m = todo.get_nowait()
            except queue.Empty:
                return
            status, by = try_mutant(work, m)
            with lock:
                results[i] = status
                if status == "not found":
                    print("[%d/%d] NOT FOUND %s: %r" % (i, len(mutants), m["file"], m["old"][:70]), flush=True)
                else:
                    print("[%d/%d] %s %s: %r -> %r%s" % (
                        i, len(mutants), "killed  " if status == "killed" else "SURVIVED", m["file"],
                        m["old"].strip()[:60], m["new"].strip()[:40], (" by " + by) if by else ""), flush=True)

    try:
        for work in trees:
            copy_tree(work)
        rc, failed, last = run_tests(trees[0], ["tests/unit"])
        if rc != 0:
            print("the unit tests fail without any mutant: %s" % (failed[:3] or last))
            return 2
        threads = [threading.Thread(target=worker, args=(work,)) for work in trees]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for work in trees:
            shutil.rmtree(work, ignore_errors=True)
    survived = [m for i, m in enumerate(mutants, 1) if results.get(i) == "survived"]
    broken = [m for i, m in enumerate(mutants, 1) if results.get(i) == "not found"]
    print("%d mutant(s): %d killed, %d survived, %d not found, in %.0f s (%d at once)" % (
        len(mutants), len(mutants) - len(survived) - len(broken), len(survived), len(broken), time.time() - start,
        jobs))
    for m in survived:
        print("SURVIVED [%s] %s: %r -> %r" % (m["group"], m["file"], m["old"], m["new"]))
    return 2 if broken else (1 if survived else 0)


if __name__ == "__main__":
    sys.exit(main())
