# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""php-fpm configuration model: the fpm config file with its includes, and php.ini files.

Private helper of opcache-fleet (standard library only, Python 3.8+).

The semantics follow php-fpm's own loader (sapi/fpm/fpm_conf.c), read as reference:

* every line is parsed on its own by the Zend INI scanner (no multi-line values);
  unquoted ``yes/on/true`` become ``"1"``, ``no/off/false/none/null`` become ``""``;
  ``;`` starts a comment outside quotes; ``${NAME}`` is replaced from the environment;
* ``[global]`` switches to the global section, any other ``[name]`` opens (or re-opens)
  a pool; a later value of the same directive replaces the earlier one;
* ``include=`` is a glob; a relative one is taken relative to the ``-p`` prefix, else to
  the compiled PHP prefix; at most 5 nested levels;
* ``$pool`` in a pool value is replaced by the pool name;
* ``error_log`` defaults to ``log/php-fpm.log`` relative to the prefix, else the compiled
  localstatedir (``/var``); ``syslog`` is kept as is;
* relative ``listen`` (unix), ``access.log``, ``slowlog``, ``chdir`` and ``chroot`` are
  taken relative to the pool ``prefix``, else the global prefix, else the PHP prefix;
* ``php_flag``/``php_admin_flag`` values are stored as ``"1"``/``"0"``.

All file access goes through :class:`HostFS` so tests can point it at a captured tree.
"""
from __future__ import absolute_import, division, print_function

import glob
import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import listen_kind

__metaclass__ = type

MAX_INCLUDE_DEPTH = 5

# php-fpm time values: plain seconds or a s/m/h/d suffix.
_TIME_SUFFIX = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# php.ini directives whose relative values php-fpm evaluates against the pool prefix
# (FPM_PHP_INI_TO_EXPAND in php-src).
PATH_PHP_VALUES = ("error_log", "extension_dir", "mime_magic.magicfile",
                   "sendmail_path", "session.save_path")

_TRUE_WORDS = ("true", "on", "yes")
_FALSE_WORDS = ("false", "off", "no", "none", "null")

_SECTION_RE = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]\s*(?:;.*)?$")
_ENTRY_RE = re.compile(r"^\s*([^=\[\];]+?)\s*(?:\[\s*([^\]]*?)\s*\])?\s*=(.*)$")
_ENV_RE = re.compile(r"\$\{([^}]*)\}")


class HostFS:
    """Read-only view of a host's files, rooted at ``root`` (``/`` on a real host).

    Paths given to and returned by its methods are the host's absolute paths.
    """

    def __init__(self, root="/"):
        self.root = root or "/"

    def real(self, path):
        if self.root == "/":
            return path
        return os.path.join(self.root, path.lstrip("/"))

    def read_text(self, path, limit=4 * 1024 * 1024):
        with open(self.real(path), "rb") as handle:
            data = handle.read(limit)
        return data.decode("utf-8", "replace")

    def is_file(self, path):
        return os.path.isfile(self.real(path))

    def is_dir(self, path):
        return os.path.isdir(self.real(path))

    def listdir(self, path):
        try:
            return sorted(os.listdir(self.real(path)))
        except OSError:
            return []

    def glob(self, pattern):
        """Sorted matches of an absolute glob pattern (as glob(3) sorts them)."""
        matches = glob.glob(self.real(pattern))
        if self.root != "/":
            base = os.path.normpath(self.root)
            matches = ["/" + os.path.relpath(m, base) for m in matches]
        return sorted(matches)


def parse_time(value):
    """php-fpm time value (``30``, ``30s``, ``5m``, ``1h``, ``1d``) -> seconds, or None."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    factor = 1
    if text[-1] in _TIME_SUFFIX:
        factor = _TIME_SUFFIX[text[-1]]
        text = text[:-1]
    if not re.match(r"^-?\d+$", text):
        return None
    return int(text) * factor


def parse_int(value):
    if value is None:
        return None
    text = str(value).strip()
    if re.match(r"^-?\d+$", text):
        return int(text)
    return None


def _expand_env(text, env):
    return _ENV_RE.sub(lambda m: env.get(m.group(1), ""), text)


def parse_ini_value(raw, env=None):
    """One value as the Zend INI scanner (normal mode) gives it to php-fpm / PHP.

    Returns a string. Quoted parts are kept literally (double quotes still expand
    ``${NAME}``), unquoted parts lose ``;`` comments and surrounding blanks, and a bare
    boolean word becomes ``"1"`` or ``""``.
    """
    env = env or {}
    out = []
    i = 0
    n = len(raw)
    bare = []
    quoted = False
    while i < n:
        c = raw[i]
        if c == ";":
            break
        if c == '"':
            j = i + 1
            buf = []
            while j < n and raw[j] != '"':
                if raw[j] == "\\" and j + 1 < n and raw[j + 1] in '"\\':
                    buf.append(raw[j + 1])
                    j += 2
                    continue
                buf.append(raw[j])
                j += 1
            if bare:
                out.append(("bare", "".join(bare)))
                bare = []
            out.append(("dq", _expand_env("".join(buf), env)))
            quoted = True
            i = j + 1
            continue
        if c == "'":
            j = raw.find("'", i + 1)
            if j < 0:
                j = n
            if bare:
                out.append(("bare", "".join(bare)))
                bare = []
            out.append(("sq", raw[i + 1:j]))
            quoted = True
            i = j + 1
            continue
        bare.append(c)
        i += 1
    if bare:
        out.append(("bare", "".join(bare)))
    if not quoted:
        text = "".join(part for dummy, part in out).strip()
        low = text.lower()
        if low in _TRUE_WORDS:
            return "1"
        if low in _FALSE_WORDS:
            return ""
        return _expand_env(text, env)
    # Quoted and bare parts are concatenated; blanks around the whole value go.
    pieces = []
    for idx, (kind, part) in enumerate(out):
        if kind == "bare":
            if idx == 0:
                part = part.lstrip()
            if idx == len(out) - 1:
                part = part.rstrip()
            part = _expand_env(part, env)
        pieces.append(part)
    return "".join(pieces)


def iter_ini_lines(text, env=None):
    """Yield ``(lineno, kind, name, key, value)`` for an ini text.

    ``kind`` is ``section`` (name set), ``entry`` (name, value) or ``array``
    (name, key, value: ``php_value[opcache.enable] = 0``). Comments and blank lines are
    skipped; lines that are neither are yielded as ``invalid`` with the raw text as value.
    """
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";") or stripped.startswith("#"):
            continue
        m = _SECTION_RE.match(line)
        if m:
            yield lineno, "section", m.group(1), None, None
            continue
        m = _ENTRY_RE.match(line)
        if m:
            name = m.group(1).strip()
            value = parse_ini_value(m.group(3), env)
            if m.group(2) is not None:
                yield lineno, "array", name, m.group(2), value
            else:
                yield lineno, "entry", name, None, value
            continue
        yield lineno, "invalid", None, None, stripped


def evaluate_full_path(path, pool_prefix=None, global_prefix=None, default_prefix="/usr"):
    """Absolute form of a php-fpm path value, as fpm_evaluate_full_path does it."""
    if not path or path.startswith("/"):
        return path
    prefix = pool_prefix or global_prefix or default_prefix
    result = prefix.rstrip("/") + "/" + path
    if not result.startswith("/") and pool_prefix:
        return evaluate_full_path(result, None, global_prefix, default_prefix)
    return result


def _new_pool(name):
    return {
        "name": name,
        "directives": {},
        "php_values": {},
        "php_admin_values": {},
        "env": {},
        "sources": [],
    }


def load_fpm_config(config, fs=None, prefix=None, env=None, php_prefix="/usr",
                    localstatedir="/var"):
    """Parse a php-fpm main config file and everything it includes.

    Returns ``{config, config_files, prefix, global: {directive: value}, error_log,
    error_log_kind, emergency_restart_threshold, emergency_restart_interval,
    process_control_timeout, pid, pools: [...], errors: [...]}``. Pools are in
    definition order and already normalised by :func:`normalise_pool`.
    Raises nothing for a broken tree: problems go to ``errors``.
    """
    fs = fs or HostFS()
    env = env or {}
    state = {
        "files": [],
        "errors": [],
        "global": {},
        "pools": [],
        "by_name": {},
        "current": None,
    }

    def load(path, depth):
        if depth > MAX_INCLUDE_DEPTH:
            state["errors"].append("%s: more than %d nested includes" % (path, MAX_INCLUDE_DEPTH))
            return
        try:
            text = fs.read_text(path)
        except (IOError, OSError) as exc:
            state["errors"].append("cannot read %s: %s" % (path, exc))
            return
        state["files"].append(path)
        for lineno, kind, name, key, value in iter_ini_lines(text, env):
            where = "%s:%d" % (path, lineno)
            if kind == "section":
                if name.lower() == "global":
                    state["current"] = None
                    continue
                pool = state["by_name"].get(name.lower())
                if pool is None:
                    pool = _new_pool(name)
                    state["by_name"][name.lower()] = pool
                    state["pools"].append(pool)
                pool["sources"].append(where)
                state["current"] = pool
            elif kind == "entry":
                if name == "include":
                    pattern = evaluate_full_path(value, None, prefix, php_prefix)
                    matches = [m for m in fs.glob(pattern) if not m.endswith("/")]
                    matches = [m for m in matches if not fs.is_dir(m)]
                    if not matches:
                        state["errors"].append(
                            "%s: nothing matches the include pattern '%s'" % (where, pattern))
                    for match in matches:
                        load(match, depth + 1)
                    continue
                pool = state["current"]
                if pool is None:
                    state["global"][name.lower()] = value
                else:
                    pool["directives"][name.lower()] = _expand_pool(value, pool["name"])
            elif kind == "array":
                pool = state["current"]
                if pool is None:
                    state["errors"].append("%s: arrays are not allowed in the global section" % where)
                    continue
                lname = name.lower()
                if lname in ("php_flag", "php_admin_flag"):
                    value = "1" if value == "1" else "0"
                    target = "php_values" if lname == "php_flag" else "php_admin_values"
                elif lname == "php_value":
                    target = "php_values"
                elif lname == "php_admin_value":
                    target = "php_admin_values"
                elif lname == "env":
                    target = "env"
                else:
                    continue
                pool[target][key] = _expand_pool(value, pool["name"])
            else:
                # the line itself is not copied: an include may point at any file root
                # can read (/etc/shadow), and errors end up in the module's output
                state["errors"].append("%s: cannot parse line (neither a [section] nor a "
                                       "name = value entry)" % where)

    load(config, 1)

    glob_cfg = state["global"]
    error_log = glob_cfg.get("error_log") or "log/php-fpm.log"
    if error_log.lower() == "syslog":
        error_log_kind = "syslog"
    else:
        error_log = evaluate_full_path(error_log, None, prefix, localstatedir)
        error_log_kind = "stderr" if error_log in ("/proc/self/fd/2", "/dev/stderr") else "file"
    pid_file = glob_cfg.get("pid")
    if pid_file:
        pid_file = evaluate_full_path(pid_file, None, prefix, localstatedir)

    pools = [normalise_pool(p, global_prefix=prefix, php_prefix=php_prefix) for p in state["pools"]]
    if not pools:
        state["errors"].append("%s: no pool section found" % config)
    return {
        "config": config,
        "config_files": state["files"],
        "prefix": prefix,
        "global": dict(glob_cfg),
        "error_log": error_log,
        "error_log_kind": error_log_kind,
        "pid": pid_file,
        "emergency_restart_threshold": parse_int(glob_cfg.get("emergency_restart_threshold")) or 0,
        "emergency_restart_interval": parse_time(glob_cfg.get("emergency_restart_interval")) or 0,
        "process_control_timeout": parse_time(glob_cfg.get("process_control_timeout")) or 0,
        "pools": pools,
        "errors": state["errors"],
    }


def _expand_pool(value, name):
    if value is None:
        return value
    return value.replace("$pool", name)


def normalise_pool(pool, global_prefix=None, php_prefix="/usr"):
    """Turn a raw pool (directives + arrays) into the reported pool dict."""
    d = pool["directives"]
    pool_prefix = d.get("prefix") or None
    if pool_prefix:
        pool_prefix = evaluate_full_path(pool_prefix, None, global_prefix, php_prefix)

    def path(key):
        value = d.get(key)
        if not value:
            return None
        return evaluate_full_path(value, pool_prefix, global_prefix, php_prefix)

    listen = d.get("listen") or None
    kind = listen_kind(listen)
    if kind == "unix":
        listen = evaluate_full_path(listen, pool_prefix, global_prefix, php_prefix)

    chroot = d.get("chroot") or None
    if chroot:
        if chroot.startswith("$prefix"):
            chroot = (pool_prefix or global_prefix or php_prefix) + chroot[len("$prefix"):]
        chroot = evaluate_full_path(chroot, pool_prefix, global_prefix, php_prefix)

    php_values = dict(pool["php_values"])
    php_admin_values = dict(pool["php_admin_values"])
    if not chroot:
        for values in (php_values, php_admin_values):
            for key in list(values):
                if key.lower() in PATH_PHP_VALUES and values[key] and values[key].lower() != "syslog":
                    values[key] = evaluate_full_path(values[key], pool_prefix, global_prefix, php_prefix)

    opcache_overrides = {}
    extension_overrides = []
    for origin, values in (("php_value", php_values), ("php_admin_value", php_admin_values)):
        for key in sorted(values):
            low = key.lower()
            if low.startswith("opcache."):
                opcache_overrides[key] = {"value": values[key], "via": origin}
            elif low in ("extension", "zend_extension"):
                extension_overrides.append({"directive": key, "value": values[key], "via": origin})

    limit = d.get("security.limit_extensions")
    if limit is None:
        limit = ".php .phar"
    # php_admin_value wins over php_value for open_basedir.
    open_basedir = php_admin_values.get("open_basedir", php_values.get("open_basedir"))

    return {
        "name": pool["name"],
        "prefix": pool_prefix,
        "listen": listen,
        "listen_kind": kind,
        "listen_owner": d.get("listen.owner"),
        "listen_group": d.get("listen.group"),
        "listen_mode": d.get("listen.mode"),
        "listen_allowed_clients": d.get("listen.allowed_clients"),
        "user": d.get("user"),
        "group": d.get("group"),
        "chroot": chroot,
        "chdir": path("chdir"),
        "access_log": path("access.log"),
        "slowlog": path("slowlog"),
        "request_slowlog_timeout": parse_time(d.get("request_slowlog_timeout")) or 0,
        "request_terminate_timeout": parse_time(d.get("request_terminate_timeout")) or 0,
        "pm": (d.get("pm") or "").lower() or None,
        "pm_max_children": parse_int(d.get("pm.max_children")),
        "pm_max_requests": parse_int(d.get("pm.max_requests")) or 0,
        "pm_status_path": d.get("pm.status_path"),
        "ping_path": d.get("ping.path"),
        "catch_workers_output": d.get("catch_workers_output") == "1",
        "clear_env": d.get("clear_env", "1") == "1",
        "security_limit_extensions": limit.split(),
        "php_values": php_values,
        "php_admin_values": php_admin_values,
        "opcache_overrides": opcache_overrides,
        "extension_overrides": extension_overrides,
        "open_basedir": open_basedir,
        "env": dict(pool["env"]),
        "sources": list(pool["sources"]),
    }


# ---------------------------------------------------------------------------------------
# php.ini files


def parse_php_ini(text, env=None):
    """Entries of a php.ini text in order: ``[(lineno, name, value)]``.

    ``[PATH=...]``/``[HOST=...]`` sections only apply to matching requests: their
    entries are returned with the section in the name (``[PATH=/x] opcache.enable``)
    so that they never count as global values.
    """
    entries = []
    section = None
    for lineno, kind, name, key, value in iter_ini_lines(text, env):
        if kind == "section":
            low = name.lower()
            section = name if (low.startswith("path=") or low.startswith("host=")) else None
            continue
        if kind == "invalid":
            continue
        if kind == "array":
            name = "%s[%s]" % (name, key)
        if section:
            name = "[%s] %s" % (section, name)
        entries.append((lineno, name, value))
    return entries


def effective_ini(fs, files, env=None):
    """Merge ini files in order. Returns ``(values, extensions, errors)``.

    ``values`` maps directive -> ``{value, file, line}`` (last one wins);
    ``extensions`` lists every ``extension``/``zend_extension`` line in order.
    """
    values = {}
    extensions = []
    errors = []
    for path in files:
        try:
            text = fs.read_text(path)
        except (IOError, OSError) as exc:
            errors.append("cannot read %s: %s" % (path, exc))
            continue
        for lineno, name, value in parse_php_ini(text, env):
            if name in ("extension", "zend_extension"):
                extensions.append({"directive": name, "value": value, "file": path, "line": lineno})
                continue
            values[name] = {"value": value, "file": path, "line": lineno}
    return values, extensions, errors


def opcache_directives(values):
    """``{directive: value}`` of the ``opcache.*`` entries of :func:`effective_ini` values."""
    return dict((k, v["value"]) for k, v in sorted(values.items()) if k.startswith("opcache."))
