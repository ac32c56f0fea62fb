# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which file an edit of a config path really replaces, and whether others could redirect it.

Private to opcache-fleet. Standard library only, Python 3.8+.

The modules run as root and replace files with a temp file and a rename. A rename replaces
the *name* it is given, so a symlinked file (Debian's ``conf.d/10-opcache.ini ->
../mods-available/opcache.ini``, made by ``phpenmod``) would turn into a regular file and
stop being shared. And every directory on the way is a place where someone else might
plant a symlink that sends root's write elsewhere. So the path is walked the way the
kernel walks it, one component at a time with ``lstat``:

* every directory and every symlink on the way is owned by root or by us (the effective
  user): only they can have made it;
* no directory on the way can be changed by other users (world-writable, or writable by
  a group other than root's), except a sticky one such as ``/tmp``, whose entries others
  cannot rename or remove: the next component is checked to be ours;
* the directory that holds the file (where the temp file is made and renamed) must not
  be writable by others at all, sticky or not: others could create the name first;
* a symlinked file is followed to its target (as ``lineinfile``/``ini_file`` do with
  ``follow``) unless the caller refuses links; a dangling link, a link to something that
  is not a regular file, or into ``/proc``, ``/sys`` or ``/dev``, is refused.

``real_path(path, param, follow=True) -> (real, links)``: ``real`` is the file to read and
replace, ``links`` the ``(link, target text)`` pairs followed. Raises RealPathError with a
sentence naming the path, the component and what is wrong. Nothing is changed.

What it cannot close: root (or we) swapping things between the check and the rename;
that is the owner of the machine, not an attacker.
"""

from __future__ import absolute_import, division, print_function

import os
import stat

__metaclass__ = type

# the kernel's own limit for symlinks followed in one lookup
MAX_LINKS = 40
# kernel interfaces, not configuration: writing a php ini or blacklist there is a mistake
PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


class RealPathError(Exception):
    pass


def _trusted_uid(uid):
    return uid == 0 or uid == os.geteuid()


def _others_can_write(st):
    """Why other users can change entries of this directory (None: they cannot)."""
    mode = st.st_mode
    if mode & stat.S_IWOTH:
        return "writable by other users (mode %04o)" % stat.S_IMODE(mode)
    if mode & stat.S_IWGRP and st.st_gid != 0 and st.st_gid != os.getegid():
        return "writable by other users of group %d (mode %04o)" % (st.st_gid, stat.S_IMODE(mode))
    return None


def _via(links):
    if not links:
        return ""
    return " (reached through the symlink%s %s)" % (
        "s" if len(links) > 1 else "", ", ".join("%s -> %s" % pair for pair in links))


def _walk(path, param):
    """Resolve ``path`` component by component; returns (real, links, lstat or None)."""
    pending = [c for c in path.split("/") if c]
    current = "/"
    links = []
    _check_directory(current, os.lstat(current), path, param, links, final=not pending)
    while pending:
        name = pending.pop(0)
        if name == ".":
            continue
        if name == "..":
            # ``current`` has no symlink left in it, so its parent is the real parent
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            if pending:
                raise RealPathError("%s: the directory %s of %s does not exist%s"
                                    % (param, candidate, path, _via(links)))
            return candidate, links, None
        except OSError as exc:
            raise RealPathError("%s: cannot look at %s (on the way to %s): %s" % (param, candidate, path, exc))
        if stat.S_ISLNK(st.st_mode):
            if not _trusted_uid(st.st_uid):
                raise RealPathError("%s: %s is a symlink owned by uid %d, not by root: another user "
                                    "could point it anywhere; refusing to follow it to write %s"
                                    % (param, candidate, st.st_uid, path))
            if len(links) >= MAX_LINKS:
                raise RealPathError("%s: too many symlinks on the way to %s (a loop?)%s"
                                    % (param, path, _via(links)))
            target = os.readlink(candidate)
            links.append((candidate, target))
            if target.startswith("/"):
                current = "/"
            pending = [c for c in target.split("/") if c] + pending
            continue
        if not pending:
            return candidate, links, st
        if not stat.S_ISDIR(st.st_mode):
            raise RealPathError("%s: %s is not a directory (on the way to %s)%s"
                                % (param, candidate, path, _via(links)))
        _check_directory(candidate, st, path, param, links, final=False)
        current = candidate
    # "/" itself, or a path ending in "." / ".." or a link to a directory
    return current, links, os.lstat(current)


def _check_directory(directory, st, path, param, links, final):
    if not _trusted_uid(st.st_uid):
        raise RealPathError("%s: cannot write %s safely: the directory %s is owned by uid %d, not "
                            "by root, who could swap the file or plant a symlink there%s"
                            % (param, path, directory, st.st_uid, _via(links)))
    problem = _others_can_write(st)
    # in a sticky directory others cannot rename or remove what is not theirs, and the next
    # component is checked to be root's: passing through is safe, keeping a file there is not
    if problem and (final or not st.st_mode & stat.S_ISVTX):
        raise RealPathError("%s: cannot write %s safely: the directory %s is %s, who could swap "
                            "the file or plant a symlink there; fix its permissions or use "
                            "another path%s" % (param, path, directory, problem, _via(links)))


def real_path(path, param="path", follow=True):
    """The file to read and replace for ``path``; see the module docstring."""
    if not path.startswith("/"):
        raise RealPathError("%s: %r is not an absolute path" % (param, path))
    real, links, st = _walk(path, param)
    is_link = os.path.islink(path)
    if is_link and not follow:
        raise RealPathError("%s: %s is a symlink to %s; opcache-fleet writes this file itself, as a "
                            "regular file, so someone else has replaced it: remove the link (a new "
                            "file is then written) or give path: %s to edit the file it points to"
                            % (param, path, real, real))
    if st is None:
        if is_link:
            raise RealPathError("%s: %s is a symlink to %s, which does not exist (a dangling link); "
                                "fix or remove the link, nothing was written" % (param, path, real))
    elif stat.S_ISDIR(st.st_mode):
        raise RealPathError("%s: %s is a directory, not a file%s" % (param, path, _via(links)))
    elif not stat.S_ISREG(st.st_mode):
        raise RealPathError("%s: %s is not a regular file (a device, FIFO or socket); refusing to "
                            "edit it%s" % (param, real, _via(links)))
    if any(real == root or real.startswith(root + "/") for root in PSEUDO_ROOTS):
        raise RealPathError("%s: %s is under %s, a kernel interface, not a configuration file%s"
                            % (param, real, real.split("/")[1], _via(links)))
    directory = os.path.dirname(real) or "/"
    _check_directory(directory, os.lstat(directory), path, param, links, final=True)
    return real, links
