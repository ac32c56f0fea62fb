# SPDX-License-Identifier: GPL-3.0-or-later
"""A discovery fixture's fake /proc, built at test time with real ``PID/exe`` symlinks.

The committed fixtures hold no symlinks (``ansible-test sanity`` refuses them, and the
captured ones dangle): each ``PID/exe`` is stored as ``PID/exe.link``, a text file with
the symlink's target. :func:`build_proc` copies the fixture's ``proc/`` tree and turns
every ``exe.link`` back into an ``exe`` symlink, so ``procfs.read_exe`` reads it with
``os.readlink`` exactly as on a real host.

Discovery trusts a master only when /proc/PID/status says root owns it and its parent,
and its binary and the binary's directories belong to root. The fixtures were captured
before ``status`` was: :func:`build_proc` writes one where it is missing (uid 0, as
every master, nginx and PID 1 of the lab hosts run as root; ``uids`` changes it), and
:class:`FakeStat` stands in for ``os.stat`` (the binaries named by the fixtures are not
on the test machine, and files in ``tmp_path`` are never root's).
"""
import errno
import os
import shutil

from fake_runner import FIXTURES

LINK_SUFFIX = ".link"
NOBODY = 65534


def write_status(pid_dir, uid, name="x"):
    """A /proc/PID/status with ``uid`` as real, effective, saved and fs uid."""
    with open(os.path.join(str(pid_dir), "status"), "w") as handle:
        handle.write("Name:\t%s\nState:\tS (sleeping)\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n"
                     % ((name,) + (uid,) * 8))


def build_proc(name, dest, uids=None):
    """Copy fixture ``name``'s ``proc/`` to ``dest/<name>/proc``; return that path.

    ``uids`` ({pid: uid}) sets the owner written into ``PID/status``; any other pid
    without a committed ``status`` gets uid 0.
    """
    uids = uids or {}
    source = os.path.join(FIXTURES, name, "proc")
    target = os.path.join(str(dest), name, "proc")
    shutil.copytree(source, target)
    for directory, _dirs, files in os.walk(target):
        for filename in files:
            if not filename.endswith(LINK_SUFFIX):
                continue
            path = os.path.join(directory, filename)
            with open(path) as handle:
                link_target = handle.read().rstrip("\n")
            os.remove(path)
            os.symlink(link_target, path[:-len(LINK_SUFFIX)])
    for entry in os.listdir(target):
        pid_dir = os.path.join(target, entry)
        if entry.isdigit() and (int(entry) in uids or not os.path.exists(os.path.join(pid_dir, "status"))):
            write_status(pid_dir, uids.get(int(entry), 0))
    return target


def add_process(proc_root, pid, argv, ppid=1, uid=0, exe=None, environ=None, cgroup=None, mnt=None):
    """One process in a hand-made fake /proc: cmdline, stat, status, environ, exe, cgroup."""
    d = os.path.join(str(proc_root), str(pid))
    os.makedirs(d)
    with open(os.path.join(d, "cmdline"), "wb") as handle:
        handle.write("\0".join(argv).encode() + b"\0")
    with open(os.path.join(d, "stat"), "w") as handle:
        handle.write("%d (x) S %d %d %d 0" % (pid, ppid, pid, pid))
    write_status(d, uid)
    with open(os.path.join(d, "environ"), "wb") as handle:
        handle.write(b"".join(("%s=%s\0" % item).encode() for item in sorted((environ or {}).items())))
    if cgroup is not None:
        with open(os.path.join(d, "cgroup"), "w") as handle:
            handle.write(cgroup)
    if exe is not None:
        os.symlink(exe, os.path.join(d, "exe"))
    if mnt is not None:
        os.makedirs(os.path.join(d, "ns"))
        os.symlink(mnt, os.path.join(d, "ns", "mnt"))
    return d


class FakeStat:
    """``os.stat`` stand-in: every path is a root-owned ``0755`` file unless ``entries``
    ({path: (uid, gid, mode) or None for "does not exist"}) says otherwise.

    A fake ``/proc/PID/exe`` symlink not named in ``entries`` is answered for its target,
    as the kernel answers ``stat`` on the real one with the running binary's inode; a
    ``(deleted)`` target keeps that suffix in its key (the inode outlives the name).
    """

    DEFAULT = (0, 0, 0o100755)

    def __init__(self, entries=None):
        self.entries = dict(entries or {})
        self.calls = []

    def __call__(self, path):
        self.calls.append(path)
        if path not in self.entries and os.path.basename(path) == "exe" and os.path.islink(path):
            path = os.readlink(path)
        entry = self.entries.get(path, self.DEFAULT)
        if entry is None:
            raise OSError(errno.ENOENT, "No such file or directory", path)
        uid, gid, mode = entry
        return os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))
