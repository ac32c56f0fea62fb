# SPDX-License-Identifier: GPL-3.0-or-later
"""The crash_storm event source as ansible-rulebook runs it (runpy on the collection's file):
its arguments, the commands it runs, and whole runs of main() over real files that grow,
rotate and are followed directly or through a command."""
import asyncio
import gc
import os
import runpy
import select
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
# The path ansible-rulebook finds it at: inside an ansible_collections tree.
PLUGIN = os.path.join(ROOT, ".collections", "ansible_collections", "phpfpm", "opcache_fleet",
                      "extensions", "eda", "plugins", "event_source", "crash_storm.py")
SRC = runpy.run_path(PLUGIN)

NGINX_104 = ('2026/12/06 11:20:01 [error] 812#812: *%d recv() failed (104: Connection reset by peer) while reading '
             'response header from upstream, client: 127.0.0.1, server: _, request: "GET /c/report.php HTTP/1.1", '
             'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"\n')
FPM_SEGV = ('[06-Dec-2026 11:20:01] WARNING: [pool www] child %d exited on signal 11 (SIGSEGV) after 1.5 seconds '
            'from start\n')


def test_loads_without_the_collection_on_sys_path():
    """ansible-rulebook runs the file with runpy in a Python that knows no ansible_collections."""
    code = "import runpy, sys; m = runpy.run_path(sys.argv[1]); print(sorted(k for k in m if k == 'main'))"
    out = subprocess.run([sys.executable, "-I", "-c", code, PLUGIN], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['main']"


@pytest.mark.parametrize("args,message", [
    ([], "crash_storm: the source arguments must be a mapping"),
    ({}, "crash_storm: hosts must be a non-empty list of hosts to watch, got None"),
    ({"hosts": [{"host": "w1"}], "treshold": 3}, "crash_storm: unknown argument(s) treshold"),
    ({"hosts": [{"host": "w1;rm -rf /"}]}, "crash_storm: hosts[0].host must be an inventory host name"),
    ({"hosts": [{"host": "all:!web"}]}, "crash_storm: hosts[0].host must be an inventory host name"),
    ({"hosts": [{"host": "w1", "nginx_logs": ["var/log/x.log"]}]}, "log path 'var/log/x.log' must be absolute"),
    ({"hosts": [{"host": "w1", "nginx_logs": "/var/log/x.log"}]}, "nginx_logs must be a list of non-empty strings"),
    ({"hosts": [{"host": "w1", "journal_units": ["--since=x"]}]}, "journal unit or identifier '--since=x' starts with '-'"),
    ({"hosts": [{"host": "w1", "nginx_logs": []}]}, "hosts[0] (w1) follows nothing"),
    ({"hosts": [{"host": "w1"}, {"host": "w1"}]}, "hosts[1]: host w1 is listed twice"),
    ({"hosts": [{"host": "w1", "port": 22}]}, "hosts[0]: unknown key(s) port"),
    ({"hosts": [{"host": "w1"}], "reset_approved": "yes"}, "reset_approved must be true or false, got 'yes'"),
    ({"hosts": [{"host": "w1"}], "threshold": "3"}, "threshold must be a whole number, got '3'"),
    ({"hosts": [{"host": "w1"}], "poll_interval": 0}, "poll_interval must be a number of seconds in (0, 60]"),
])
def test_bad_arguments_name_the_problem(args, message):
    with pytest.raises(ValueError) as err:
        SRC["parse_args"](args)
    assert message in str(err.value)


def test_commands_are_argument_lists_under_the_fixed_follow_script():
    path = "/var/log/it's $HOME; `x`.log"
    settings, streams, approved, poll = SRC["parse_args"]({
        "hosts": [{"host": "web1", "via": ["ssh", "-T", "web1"], "nginx_logs": [path],
                   "journal_units": ["php8.2-fpm.service"], "kernel": True}],
        "reset_approved": "true", "threshold": 4})
    assert approved is True and settings.threshold == 4
    run = ["ssh", "-T", "web1", "sh", "-c", SRC["FOLLOW_SCRIPT"], "crash_storm"]
    assert [s.argv for s in streams] == [
        run + ["tail", "-F", "-n", "0", "--", path],
        run + ["journalctl", "--follow", "--lines=0", "--output=json", "--quiet", "--unit=php8.2-fpm.service"],
        run + ["journalctl", "--follow", "--lines=0", "--output=json", "--quiet", "--dmesg"],
    ]
    assert [(s.kind, s.journal) for s in streams] == [("nginx", False), ("php-fpm", True), ("kernel", True)]


def test_without_via_files_are_read_directly():
    streams = SRC["parse_args"]({"hosts": [{"host": "web1", "fpm_logs": ["/var/log/php8.2-fpm.log"]}]})[1]
    assert [(s.kind, s.path, s.argv) for s in streams] == [
        ("nginx", "/var/log/nginx/error.log", None), ("php-fpm", "/var/log/php8.2-fpm.log", None)]


class Queue:
    def __init__(self):
        self.events = []

    async def put(self, event):
        self.events.append(event)


def run_source(args, script, timeout=20):
    """main(args) against a list of steps: each step is a callable (writes to the logs) or a
    number (seconds to let the source read). Returns the events it put."""
    queue = Queue()

    async def scenario():
        task = asyncio.ensure_future(SRC["main"](queue, args))
        await asyncio.sleep(0.5)
        for step in script:
            if callable(step):
                step()
            else:
                await asyncio.sleep(step)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        # The followers' subprocess transports are released while the loop still runs (at a
        # later garbage collection, with the loop closed, they would complain in another test).
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(asyncio.wait_for(scenario(), timeout))
    return queue.events


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def crashes(nginx, fpm, first, n):
    def step():
        for i in range(first, first + n):
            append(nginx, NGINX_104 % (1000 + i))
            append(fpm, FPM_SEGV % (2000 + i))
    return step


def local_args(tmp_path, **extra):
    nginx, fpm = str(tmp_path / "error.log"), str(tmp_path / "php-fpm.log")
    for p in (nginx, fpm):
        append(p, "")
    args = {"hosts": [{"host": "web1", "nginx_logs": [nginx], "fpm_logs": [fpm]}], "poll_interval": 0.05}
    args.update(extra)
    return args, nginx, fpm


def test_a_storm_fires_once_across_a_rotation_and_a_single_crash_does_not(tmp_path):
    args, nginx, fpm = local_args(tmp_path, cooldown=300)

    def rotate():
        os.rename(nginx, nginx + ".1")
        append(nginx, "")

    events = run_source(args, [crashes(nginx, fpm, 0, 1), 0.5, rotate, 0.3, crashes(nginx, fpm, 1, 2), 0.5,
                               crashes(nginx, fpm, 3, 4), 0.5])
    assert len(events) == 1
    ev = events[0]
    assert ev["meta"] == {"hosts": "web1"}
    body = ev["opcache_fleet"]
    assert (body["kind"], body["host"], body["reset_approved"]) == ("crash_storm", "web1", False)
    assert (body["tied_crashes"], body["crashes"], body["gateway_502"]) == (3, 3, 3)
    assert body["signals"] == {"SIGSEGV": 3} and body["requests"] == ["GET /c/report.php HTTP/1.1"]
    assert body["first_seen"].endswith("+00:00")


def test_one_crash_and_502s_without_crashes_stay_quiet(tmp_path):
    args, nginx, fpm = local_args(tmp_path)
    refused = ('2026/12/06 11:20:01 [error] 812#812: *%d connect() to unix:/run/php/php8.2-fpm.sock failed '
               '(111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, '
               'request: "GET /a/index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", '
               'host: "127.0.0.1"\n')

    def refusals():
        for i in range(10):
            append(nginx, refused % i)

    events = run_source(args, [crashes(nginx, fpm, 0, 1), refusals, 1.0])
    assert events == []


def test_the_same_log_under_two_names_counts_each_crash_once(tmp_path):
    args, nginx, fpm = local_args(tmp_path)
    twin = str(tmp_path / "php-fpm-link.log")
    os.symlink(fpm, twin)
    args["hosts"][0]["fpm_logs"].append(twin)
    events = run_source(args, [crashes(nginx, fpm, 0, 2), 1.0])
    assert events == []
    events = run_source(args, [crashes(nginx, fpm, 10, 3), 1.0])
    assert len(events) == 1 and events[0]["opcache_fleet"]["crashes"] == 3


def _followers_of(path):
    out = subprocess.run(["pgrep", "-f", "tail -F -n 0 -- " + path], capture_output=True, text=True, check=False)
    return out.stdout.split()


def test_a_followed_command_sees_the_storm_and_leaves_nothing_running(tmp_path):
    """Through `via` (here `env`, the command runs on this machine): tail -F under the
    follow script, rotation by rename included; once the source stops, no tail is left."""
    args, nginx, fpm = local_args(tmp_path)
    args["hosts"][0]["via"] = ["env"]

    def rotate():
        os.rename(fpm, fpm + ".1")
        append(fpm, "")

    events = run_source(args, [1.0, crashes(nginx, fpm, 0, 1), 1.0, rotate, 2.0, crashes(nginx, fpm, 1, 2), 2.0])
    assert len(events) == 1 and events[0]["opcache_fleet"]["tied_crashes"] == 3
    deadline = time.time() + 10
    while _followers_of(nginx) and time.time() < deadline:
        time.sleep(0.2)
    assert _followers_of(nginx) == []


def test_the_follow_script_ends_the_follower_when_its_stdin_closes(tmp_path):
    """What happens inside a host when the watcher is gone (podman exec -i and ssh close the
    command's stdin): the tail ends with it, nobody has to kill it."""
    log = str(tmp_path / "error.log")
    append(log, "")
    proc = subprocess.Popen(["sh", "-c", SRC["FOLLOW_SCRIPT"], "crash_storm", "tail", "-F", "-n", "0", "--", log],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 5
        while not _followers_of(log) and time.time() < deadline:
            time.sleep(0.1)
        assert _followers_of(log), "tail did not start"
        proc.stdin.close()
        proc.wait(timeout=5)
        deadline = time.time() + 5
        while _followers_of(log) and time.time() < deadline:
            time.sleep(0.1)
        assert _followers_of(log) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)


def test_the_follow_script_ends_with_its_follower_and_its_exit_code():
    proc = subprocess.Popen(["sh", "-c", SRC["FOLLOW_SCRIPT"], "crash_storm", "sh", "-c", "echo hi; exit 3"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        # stdin stays open: the end must come from the follower (read with a deadline).
        out, deadline = b"", time.time() + 5
        while time.time() < deadline:
            ready = select.select([proc.stdout], [], [], 0.2)[0]
            chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
            if ready and not chunk:
                break
            out += chunk
        else:
            raise AssertionError("the follow script's output did not end when its follower did")
        assert proc.wait(timeout=5) == 3 and out == b"hi\n"
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            os.killpg(proc.pid, 9)


def test_a_local_file_says_it_is_followed_and_a_missing_one_is_named(tmp_path, caplog):
    args, nginx, fpm = local_args(tmp_path)
    missing = str(tmp_path / "gone.log")
    args["hosts"][0]["fpm_logs"].append(missing)
    with caplog.at_level("INFO", logger="phpfpm.opcache_fleet.crash_storm"):
        run_source(args, [0.3])
    text = caplog.text
    assert "crash_storm: web1: following %s" % nginx in text
    assert "crash_storm: web1: %s: cannot open: No such file or directory (crash evidence from it is not read" \
        % missing in text
