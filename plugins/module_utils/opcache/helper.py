# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PHP helper that reads and drives OPcache through a php-fpm pool socket.

Private to opcache-fleet. Standard library only, Python 3.8+.

Security model (see ARCHITECTURE.md, "Least exposure"):

* :data:`HELPER_PHP` (opcache/helper_php.py) is ONE fixed text. Nothing is ever formatted
  into it: arguments travel as JSON in the request body (FastCGI STDIN) and the answer is JSON that
  echoes a per-call random nonce, checked by :meth:`HelperSession.call`.
* The file is written to a fresh random directory under a root-owned base directory
  outside every document root (default ``/var/lib/opcache-fleet``, never ``/tmp``:
  systemd ``PrivateTmp`` hides the host's /tmp from php-fpm), directory 0711, file
  0644 (0640 with the pool group when known), and removed in every case.
* The helper acts only for a request carrying this run's token (FastCGI param
  ``OPCACHE_FLEET_TOKEN``, 256 random bits): the file is named after the token's SHA-256, so
  a helper left behind (SIGKILL) answers nobody, and it refuses once its mtime is over 10
  minutes old (refreshed before each call). Leftovers older than 15 minutes are swept at each
  start; SIGTERM/SIGHUP remove the live helper (opcache/helper_fs.py).
* ``helper_dir`` and its parents are opened component by component without following
  symlinks, each a directory of root's (or ours) that others cannot write; a ``helper_dir``
  inside a known document root is refused.
* It is requested straight through the pool socket with ``SCRIPT_FILENAME``; nginx
  is never involved. On a unix socket the listening process must be the pool's master (or
  a child), or root / us / the pool user when the master is unknown (opcache/peer.py).
* Answers are checked for the helper's shape before use (opcache/helper_answer.py).
* Settings that block it (``open_basedir``, ``opcache.restrict_api``, ``chroot``,
  ``security.limit_extensions``, ``PrivateTmp``/mount namespaces) are coped with where
  possible, otherwise :class:`HelperError` names the setting in ``cause``.

Python API (used by modules opcache_status / opcache_reset and others)::

    with HelperSession(socket, pool=pool_dict_or_None, timeout=10) as helper:
        answer = helper.call("status", {"scripts": True})
    answer = run_helper(socket, "status", {"scripts": False}, pool=None, timeout=10)

Actions and the ``answer`` dict (always: nonce, php_version, sapi, pid, master_pid,
pool, fpm_start_time, time, ini{...}, warnings[], elapsed, socket, helper_path):

* ``status`` {scripts: bool} -> status (opcache_get_status without scripts, or None),
  configuration (opcache_get_configuration or None), scripts (list of
  {full_path, hits, memory_consumption, last_used_timestamp, timestamp?, cached,
  mtime}) when asked and available (None while a restart is pending), apcu (APCu's
  state: loaded, enabled, version, ini, cache counters, sma with the free blocks walked).
* ``reset`` {} -> reset (bool, what opcache_reset() returned), status.
* ``invalidate`` {files: [...], force: bool} -> files: {path: {invalidated, cached}}.
* ``is_cached`` {files: [...]} -> files: {path: {cached, mtime}}.
* ``apcu_clear`` {} -> apcu_before, clear_time, cleared (what apcu_clear_cache() returned,
  None when APCu is absent or disabled), apcu (after the clear, same request).
"""
from __future__ import absolute_import, division, print_function

import binascii
import errno
import grp
import hashlib
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import fastcgi
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper_fs
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper_answer import (  # noqa: F401 (re-exported)
    HelperError,
    check_answer,
    classify_error,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper_php import HELPER_BYTES
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.peer import PeerPolicy

DEFAULT_BASE_DIR = "/var/lib/opcache-fleet"
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
ACTIONS = ("status", "reset", "invalidate", "is_cached", "apcu_clear")
# The FastCGI param that carries the per-run token (read by HELPER_PHP as $_SERVER[...]).
TOKEN_PARAM = "OPCACHE_FLEET_TOKEN"


# ----------------------------------------------------------------- pure helpers

def pick_extension(limit_extensions):
    """Choose the helper's file extension from a pool's ``security.limit_extensions``.

    None/empty -> ``.php`` (php-fpm's default is ``.php .phar``; empty allows all).
    Prefers ``.php``; otherwise the first listed extension.
    """
    if not limit_extensions:
        return ".php"
    tokens = limit_extensions.split() if isinstance(limit_extensions, str) else list(limit_extensions)
    tokens = [t for t in tokens if t.startswith(".") and "/" not in t and len(t) > 1]
    if not tokens or ".php" in tokens:
        return ".php"
    return tokens[0]


def path_within(path, root):
    """True when ``path`` equals ``root`` or lies below it (string test on normalised paths)."""
    path = os.path.normpath(path)
    root = os.path.normpath(root)
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


def open_basedir_allows(path, open_basedir):
    """PHP's open_basedir test for an absolute path: ':'-separated entries, each a plain
    PREFIX of the resolved path ('/var/www' also admits '/var/wwwx'; '/var/www/' only the
    directory). Empty open_basedir allows everything."""
    if not open_basedir:
        return True
    for entry in open_basedir.split(":"):
        entry = entry.strip()
        if not entry or entry == ".":
            continue
        if path.startswith(entry) or (entry.endswith("/") and path == entry.rstrip("/")):
            return True
    return False


def restrict_api_allows(path, restrict_api):
    """opcache.restrict_api: the script path must START with the value (plain prefix)."""
    return not restrict_api or path.startswith(restrict_api)


# ----------------------------------------------------------------- deployment

def _is_private_tmp(path):
    return any(path_within(path, d) for d in PRIVATE_TMP_DIRS)


class HelperDeployment(object):
    """Write the helper into a fresh random directory; remove it (and any directory it
    created) in :meth:`remove`. ``script_filename`` is the path as the pool sees it
    (relative to ``chroot``), ``host_path`` the path on the host."""

    def __init__(self, base_dir=DEFAULT_BASE_DIR, chroot=None, extension=".php", group=None,
                 root_prefix=None):
        self.base_dir = base_dir
        self.chroot = chroot or None
        self.extension = extension
        self.group = group
        # root_prefix: where the pool's filesystem is seen from here, e.g.
        # /proc/<master_pid>/root for a master in another mount namespace.
        self.root_prefix = root_prefix or None
        self.created = []
        self.host_path = None
        self.host_dir = None
        self.script_filename = None
        self.token = None
        self.swept = []

    def _outer(self, path_in_pool):
        prefix = ""
        if self.root_prefix:
            prefix = self.root_prefix.rstrip("/")
        if self.chroot and self.chroot != "/":
            prefix = prefix + self.chroot.rstrip("/")
        return prefix + path_in_pool if prefix else path_in_pool

    def create(self):
        if not os.path.isabs(self.base_dir):
            raise HelperError("-", "helper_dir", "helper_dir must be absolute, got %r" % self.base_dir)
        if _is_private_tmp(self.base_dir):
            raise HelperError("-", "PrivateTmp",
                              "helper_dir %s is under /tmp, /var/tmp or /dev/shm, which systemd "
                              "PrivateTmp hides from php-fpm; use a directory like %s"
                              % (self.base_dir, DEFAULT_BASE_DIR))
        # Registered first: a SIGTERM/SIGHUP from here on removes whatever exists of it.
        helper_fs.register(self)
        try:
            return self._create()
        except BaseException:
            self.remove()
            raise

    def _create(self):
        base = self._outer(os.path.normpath(self.base_dir))
        chroot = [c for c in (self.chroot or "").split("/") if c] if self.chroot != "/" else []
        parts = chroot + [c for c in os.path.normpath(self.base_dir).split("/") if c]
        try:
            base_fd = helper_fs.open_trusted_dir(self.root_prefix or "/", parts, self.created,
                                                 must_exist=len(chroot))
        except helper_fs.UnsafePath as exc:
            raise HelperError("-", "helper_dir", "helper_dir %s: %s" % (self.base_dir, exc))
        try:
            self.swept = helper_fs.sweep(base_fd, base)
            name = binascii.hexlify(os.urandom(16)).decode("ascii")
            os.mkdir(name, 0o700, dir_fd=base_fd)
            self.host_dir = os.path.join(base, name)
            self.created.append(self.host_dir)
            dir_fd = os.open(name, helper_fs.DIR_FLAGS, dir_fd=base_fd)
        finally:
            os.close(base_fd)
        try:
            os.fchmod(dir_fd, 0o711)
            # Only the token's hash is on disk; the token itself travels in each request.
            self.token = binascii.hexlify(os.urandom(32)).decode("ascii")
            fname = hashlib.sha256(self.token.encode("ascii")).hexdigest() + self.extension
            self.host_path = os.path.join(self.host_dir, fname)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(fname, flags, 0o600, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        try:
            os.write(fd, HELPER_BYTES)
            mode = 0o644
            if self.group is not None:
                try:
                    gid = self.group if isinstance(self.group, int) else grp.getgrnam(self.group).gr_gid
                    os.fchown(fd, -1, gid)
                    mode = 0o640
                except (KeyError, OSError):
                    mode = 0o644
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        self.script_filename = os.path.join(os.path.normpath(self.base_dir), name, fname)
        return self

    def touch(self):
        """Refresh the helper's mtime: the helper refuses to act when it is 10 minutes old."""
        if self.host_path:
            os.utime(self.host_path, None, follow_symlinks=False)

    def remove(self):
        """Remove the helper file and every directory created for it. Never raises."""
        problems = []
        if self.host_path:
            try:
                os.unlink(self.host_path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    problems.append(str(exc))
        keep_base = os.path.normpath(self._outer(os.path.normpath(self.base_dir)))
        for d in reversed(self.created):
            # The base dir is kept when it is the default location (root-owned, empty).
            if os.path.normpath(d) == keep_base and not self.chroot and self.base_dir == DEFAULT_BASE_DIR:
                continue
            try:
                os.rmdir(d)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                    problems.append(str(exc))
        self.host_path = None
        self.created = []
        helper_fs.unregister(self)
        return problems


# ----------------------------------------------------------------- the session

def _pool_value(pool, *names):
    if not pool:
        return None
    for name in names:
        for where in (pool, pool.get("php_admin_value") or {}, pool.get("php_value") or {},
                      pool.get("settings") or {}):
            if isinstance(where, dict) and where.get(name) not in (None, ""):
                return where.get(name)
    return None


class HelperSession(object):
    """Deploy the helper once for a pool socket, call it any number of times, remove it.

    ``pool``: optional discovery dict of the pool (keys used: chroot, group, user,
    security.limit_extensions / limit_extensions, php_admin_value/php_value
    open_basedir and opcache.restrict_api). ``master_pid``: optional; when given, a unix
    socket must be held by that master (or a child of it); ``root_prefix`` lets the helper be
    written through /proc/<pid>/root when the master lives in another mount namespace.
    ``max_answer``: bytes one answer may have (default fastcgi.DEFAULT_MAX_RESPONSE).
    """

    def __init__(self, socket, pool=None, base_dir=None, timeout=10.0, connect_timeout=None,
                 document_roots=(), master_pid=None, root_prefix=None, max_answer=None):
        self.socket = socket
        self.pool = pool or {}
        self.base_dir = base_dir or DEFAULT_BASE_DIR
        self.timeout = float(timeout)
        self.connect_timeout = connect_timeout
        self.document_roots = [d for d in (document_roots or []) if d]
        self.master_pid = master_pid
        self.root_prefix = root_prefix
        self.chroot = _pool_value(self.pool, "chroot")
        self.extension = pick_extension(_pool_value(self.pool, "security.limit_extensions",
                                                    "limit_extensions"))
        self.group = _pool_value(self.pool, "group")
        self.open_basedir = _pool_value(self.pool, "open_basedir")
        self.restrict_api = _pool_value(self.pool, "opcache.restrict_api")
        self.max_answer = int(max_answer) if max_answer else fastcgi.DEFAULT_MAX_RESPONSE
        self.peer_policy = PeerPolicy(socket, master_pid=master_pid, pool_user=_pool_value(self.pool, "user"))
        self.deployment = None
        self.warnings = []
        self.calls = 0

    # -- placement
    def _choose_base_dir(self):
        base = self.base_dir
        if self.restrict_api and not restrict_api_allows(os.path.join(base, "x"), self.restrict_api):
            base = self._base_for_restrict_api(self.restrict_api)
        if self.open_basedir and not open_basedir_allows(os.path.join(base, "x" + self.extension),
                                                         self.open_basedir):
            raise HelperError(self.socket, "open_basedir",
                              "the pool's open_basedir=%r excludes the helper directory %s: set "
                              "helper_dir to a directory inside open_basedir and outside every "
                              "document root" % (self.open_basedir, base))
        self._refuse_document_roots(base)
        return base

    def _refuse_document_roots(self, base):
        """nginx would serve a helper inside a document root: refuse, by path and by real path."""
        outer = self._outside_root()
        real_base = os.path.realpath(outer + base if outer else base)
        for docroot in self.document_roots:
            if path_within(base, docroot) or path_within(real_base, os.path.realpath(docroot)):
                raise HelperError(self.socket, "helper_dir",
                                  "helper_dir %s lies inside document root %s: nginx could serve the "
                                  "helper; choose a helper_dir outside every document root" % (base, docroot))

    def _base_for_restrict_api(self, prefix):
        root = self._outside_root()
        if os.path.isdir(root + prefix) and prefix.endswith("/"):
            base = prefix.rstrip("/") or "/"
        elif os.path.isdir(root + os.path.dirname(prefix)) and not prefix.endswith("/"):
            # A directory whose NAME starts with the prefix satisfies the prefix test.
            base = prefix + ".opcache-fleet"
        elif os.path.isdir(root + prefix):
            base = prefix
        else:
            raise HelperError(self.socket, "opcache.restrict_api",
                              "opcache.restrict_api=%r: no directory can hold the helper under that "
                              "prefix" % prefix)
        for docroot in self.document_roots:
            if path_within(base, docroot):
                raise HelperError(self.socket, "opcache.restrict_api",
                                  "opcache.restrict_api=%r only allows scripts inside document root %s; "
                                  "refusing to place the helper where nginx serves it" % (prefix, docroot))
        if not self.document_roots:
            self.warnings.append("helper placed under opcache.restrict_api prefix %s; document roots "
                                 "unknown, cannot prove it is outside them" % base)
        return base

    def _outside_root(self):
        prefix = (self.root_prefix or "").rstrip("/")
        if self.chroot and self.chroot != "/":
            prefix += self.chroot.rstrip("/")
        return prefix

    def deploy(self):
        if self.deployment is None:
            base = self._choose_base_dir()
            self.deployment = HelperDeployment(base_dir=base, chroot=self.chroot, extension=self.extension,
                                               group=self.group, root_prefix=self.root_prefix)
            try:
                self.deployment.create()
            except HelperError as exc:
                self.close()
                exc.socket = self.socket
                raise
            except OSError as exc:
                self.close()
                raise HelperError(self.socket, "helper_dir", "cannot write the helper under %s: %s"
                                  % (base, exc))
            if self.deployment.swept:
                self.warnings.append("swept %d helper(s) left behind by an earlier run (older than %d "
                                     "minutes): %s" % (len(self.deployment.swept), helper_fs.SWEEP_AGE // 60,
                                                       ", ".join(self.deployment.swept[:5])))
        return self.deployment

    def close(self):
        if self.deployment is not None:
            problems = self.deployment.remove()
            self.deployment = None
            if problems:
                self.warnings.append("helper cleanup: %s" % "; ".join(problems))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- calls
    def call(self, action, args=None, timeout=None):
        """Run one action; returns the checked answer dict (see module docstring)."""
        if action not in ACTIONS:
            raise ValueError("unknown helper action %r (one of %s)" % (action, ", ".join(ACTIONS)))
        try:
            return self._call(action, args, timeout)
        except HelperError as exc:
            if exc.cause != "opcache.restrict_api" or self.restrict_api or self.calls > 1:
                raise
            # Learned restrict_api from the answer: move the helper under its prefix once.
            prefix = getattr(exc, "restrict_api", None)
            if not prefix:
                raise
            self.restrict_api = prefix
            self.close()
            return self._call(action, args, timeout)

    def _call(self, action, args, timeout):
        dep = self.deploy()
        nonce = binascii.hexlify(os.urandom(16)).decode("ascii")
        body = json.dumps({"nonce": nonce, "action": action, "args": args or {}}).encode("ascii")
        params = fastcgi.php_params(dep.script_filename, content_length=len(body),
                                    extra={TOKEN_PARAM: dep.token})
        self.calls += 1
        try:
            dep.touch()
            response = fastcgi.request(self.socket, params, body, timeout=timeout or self.timeout,
                                       connect_timeout=self.connect_timeout, max_response=self.max_answer,
                                       peer_check=self.peer_policy)
        except fastcgi.FastCGIError as exc:
            raise HelperError(self.socket, exc.cause, exc.detail)
        except OSError as exc:
            raise HelperError(self.socket, "helper_dir", "cannot refresh the helper %s: %s" % (dep.host_path, exc))
        try:
            answer = json.loads(response.body.decode("utf-8", "replace"))
        except ValueError:
            raise classify_error(self.socket, response, dep.script_filename)
        try:
            check_answer(self.socket, answer, nonce, action)
        except HelperError as exc:
            # Only read once check_answer vouched for the shape (restrict_api is raised after it).
            prefix = (answer.get("ini") or {}).get("opcache.restrict_api") if exc.cause == "opcache.restrict_api" else None
            exc.restrict_api = prefix if isinstance(prefix, str) else None
            exc.stderr = response.stderr_text
            raise
        answer["elapsed"] = response.elapsed
        answer["socket"] = self.socket
        answer["stderr"] = response.stderr_text
        if answer.get("warnings"):
            answer["warnings"] = [w for w in answer["warnings"] if isinstance(w, str)]
        return answer


def run_helper(socket, action, args=None, **kwargs):
    """One deployment, one call, always cleaned up. kwargs as :class:`HelperSession`."""
    with HelperSession(socket, **kwargs) as session:
        return session.call(action, args)
