#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: set or remove opcache.* directives in a php ini file, validated.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: opcache_ini
short_description: Set or remove opcache.* directives in a PHP ini file, validated per PHP version
description:
  - Sets (C(state=present)) or removes (C(state=absent)) C(opcache.*) directives in one ini file,
    keeping comments, unrelated lines and line endings.
  - Every directive is checked against a table of OPcache directives of PHP 5.5 to 8.4 for the
    host's PHP version (exists? added when? removed when, and what replaced it?) and every value
    against its type and range (booleans as PHP reads them, whole numbers with bounds, sizes such
    as C(64M) where PHP accepts them, absolute paths, JIT modes).
  - An unknown directive, a removed one (unless O(on_removed=warn)) or a bad value fails with an
    explanation and writes nothing; all directives are checked before any file is touched.
  - Values that already mean the same (C(On) and C(1), C(67108864) and C(64M)) are left alone, so
    a second run reports no change.
  - Warns when a file that PHP reads later (it wins) sets the same directive, when the file is
    duplicated inside, or when a C([PATH=])/C([HOST=]) section overrides it.
  - "Default file (O(path) not given): C(zz-opcache-fleet.ini) in the last ini scan directory of the
    running php-fpm master (Debian C(/etc/php/8.2/fpm/conf.d/), RHEL C(/etc/php.d/), Remi/SCL
    C(/etc/opt/remi/php82/php.d/), or the last directory of the master's C(PHP_INI_SCAN_DIR)); a
    master without a scan directory gets its loaded C(php.ini). PHP reads scan directory files in
    name order and the last value wins, so C(zz-) sorts after the distribution's C(10-opcache.ini)."
  - "The scan directory and version are discovered from C(/proc) (command line
    C(php-fpm: master process (CONFIG)), C(/proc/PID/exe), C(/proc/PID/environ)) and the master's
    binary C(-i) and C(-v). With several masters reading different files, give O(path),
    O(scan_dir) or O(fpm_config)."
  - PHP reads these settings only at start or reload; the module returns RV(reload_required) and
    never reloads by itself.
version_added: "0.1.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  path:
    description:
      - The ini file to edit. Created (mode C(0644), owner root) when missing; its directory must exist
        (it is never created).
      - A symlink (Debian's C(conf.d/10-opcache.ini -> ../mods-available/opcache.ini)) is followed,
        its target is edited in place (atomic rename in the target's directory, owner, mode and
        SELinux context kept, backup next to the target) and the link stays. A dangling link, a link
        to something other than a regular file or into C(/proc), C(/sys) or C(/dev) fails.
      - C(zz-opcache-fleet.ini) is written only by this module, always as a regular file; when it is
        a symlink the module fails (someone else manages that name) instead of editing the target.
      - Fails, writing nothing, when another user could redirect the write - a directory on the
        way (or a symlink) not owned by root, or writable by other users (a sticky directory such
        as C(/tmp) may be passed through, the file's own directory may not be one).
      - Default, see the description (the discovered override file).
    type: path
  scan_dir:
    description:
      - Use C(SCAN_DIR/zz-opcache-fleet.ini) and the master that reads this directory.
      - Ignored when O(path) is given (except to find the master for version and scan order).
    type: path
  fpm_config:
    description:
      - Select the running php-fpm master by its main config file (as in its process title),
        when several run.
    type: str
  directives:
    description:
      - "C({name: value}). Names may omit the C(opcache.) prefix."
      - With O(state=absent) the values are ignored (a list of names is accepted too).
      - A value that php.ini cannot hold between double quotes and give back unchanged fails,
        naming the directive - a trailing backslash (it would escape the closing quote), C(\\) or
        C(\$) (PHP reads them as C(\) and C($)), C(${) (PHP expands it), a quote, a newline or a
        NUL byte.
    type: raw
    required: true
  state:
    description: Whether the directives should be set or removed.
    type: str
    choices: [present, absent]
    default: present
  php_version:
    description:
      - PHP version to validate against, like C(8.2) or C(8.2.7).
      - Default, the version printed by the php-fpm binary of the selected master (C(-v)).
    type: str
  on_removed:
    description:
      - What to do with a directive this PHP version no longer has, with O(state=present).
      - C(fail) stops before writing anything; C(warn) writes it anyway (PHP ignores it) and warns.
      - Removing a removed directive (O(state=absent)) is always allowed, that is the cure.
    type: str
    choices: [fail, warn]
    default: fail
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the file before and after.
notes:
  - Per-pool C(php_value)/C(php_admin_value) in php-fpm pool files override every ini file;
    C(fpm_discover) reports them.
seealso:
  - module: phpfpm.opcache_fleet.opcache_blacklist
"""

EXAMPLES = r"""
- name: Give OPcache more room on the discovered php-fpm master
  opcache_ini:
    directives:
      opcache.memory_consumption: 256
      opcache.max_accelerated_files: 20000
    backup: true
  register: opcache_ini_result

- name: Reload php-fpm when the settings changed
  ansible.builtin.service:
    name: php8.2-fpm
    state: reloaded
  when: opcache_ini_result.reload_required

- name: Clean up a directive that PHP 7.2 removed
  opcache_ini:
    path: /etc/php.d/10-opcache.ini
    directives: [opcache.fast_shutdown]
    state: absent

- name: Second master on the host, chosen by its scan directory
  opcache_ini:
    scan_dir: /etc/php-fpm-alt/conf.d
    directives:
      validate_timestamps: false
"""

RETURN = r"""
path:
  description: The file edited, as PHP's scan order names it.
  returned: always
  type: str
  sample: /etc/php/8.2/fpm/conf.d/zz-opcache-fleet.ini
real_path:
  description: The file actually read and replaced - RV(path), or the target of the symlink RV(path).
  returned: always
  type: str
  sample: /etc/php/8.2/mods-available/opcache.ini
changed:
  description: True only when the file content changed (or would, in check mode).
  returned: always
  type: bool
reload_required:
  description: The file changed; php-fpm must be reloaded for PHP to see it.
  returned: always
  type: bool
  sample: true
directives:
  description: The directives as validated and normalised (C(null) values with O(state=absent)).
  returned: always
  type: dict
  sample: {"opcache.memory_consumption": "256", "opcache.validate_timestamps": "0"}
actions:
  description: Per directive, what was done (C(added), C(updated), C(unchanged), C(removed), C(absent)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "opcache.memory_consumption", "action": "updated", "line": 3, "before": "128", "after": "256"}]
overridden_by:
  description: Settings of the same directives in files PHP reads later (they win).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/etc/php.d/zzz-local.ini", "line": 2, "name": "opcache.memory_consumption", "value": "64", "section": null}]
php_version:
  description: The PHP version used for validation.
  returned: always
  type: str
  sample: 8.2.7
target:
  description: How the file was chosen (master pid, config, binary, scan dirs, loaded php.ini, rule).
  returned: always
  type: dict
  sample: {"pid": 812, "config": "/etc/php/8.2/fpm/php-fpm.conf", "binary": "/usr/sbin/php-fpm8.2",
           "scan_dirs": ["/etc/php/8.2/fpm/conf.d"], "php_ini": "/etc/php/8.2/fpm/php.ini",
           "rule": "last scan dir + zz-opcache-fleet.ini"}
backup_file:
  description: The backup copy of RV(real_path), next to it, when O(backup=true) and the file changed.
  returned: when backed up
  type: str
  sample: /etc/php.d/zz-opcache-fleet.ini.2345.2024-05-01@10:00:00~
diff:
  description: Before/after text with headers naming RV(real_path) (and the link, if any) (with C(--diff)).
  returned: when diff mode is on
  type: dict
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.directives import normalize_existing, validate_many
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.php_version import parse_php_version, version_text
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.ini_file import (
    remove_directives, set_directives, settings)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.scan_order import files_in_scan_order, later_settings
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.target import (
    OVERRIDE_NAME, TargetError, describe_all, for_path, resolve)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.managed_file import (
    ManagedFileError, read_text, write_text)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.managed_file import target as file_target


def _runner(module):
    def run(argv, env_update):
        rc, out, err = module.run_command(argv, environ_update=env_update or None)
        return rc, out, err
    return run


def _target(module, params):
    """Find the master the file belongs to: for its PHP version and its scan order."""
    path, run = params["path"], _runner(module)
    if path and params["php_version"] and not params["fpm_config"] and not params["scan_dir"]:
        # everything given: discovery only refines the scan-order warnings, never fails
        try:
            found = for_path(describe_all(run), path)
        except TargetError:
            found = []
        target = dict(found[0]) if found else {"pid": None, "config": None, "binary": None,
                                               "php_ini": None, "scan_dirs": []}
        target.update(path=path, rule="given path", php_version=params["php_version"])
        return target
    try:
        if path:
            described = describe_all(run, fpm_config=params["fpm_config"])
            found = for_path(described, path) or described
            versions = sorted(set(d["php_version"] for d in found))
            if not found:
                raise TargetError("no running php-fpm master and no php-fpm binary found")
            if len(versions) > 1 and not params["php_version"]:
                raise TargetError("%s is read by masters of PHP %s" % (path, " and ".join(versions)))
            target = dict(found[0])
            if not for_path(described, path):
                target.update(php_ini=None, scan_dirs=[])
            target.update(path=path, rule="given path")
        else:
            target = resolve(run, fpm_config=params["fpm_config"], scan_dir=params["scan_dir"])
            if params["scan_dir"]:
                target["path"] = os.path.join(params["scan_dir"], OVERRIDE_NAME)
                target["rule"] = "scan_dir + " + OVERRIDE_NAME
    except TargetError as exc:
        if path and not params["php_version"]:
            module.fail_json(msg="php_version: not given and could not be discovered: %s" % exc)
        module.fail_json(msg=str(exc))
    if params["php_version"]:
        target["php_version"] = params["php_version"]
    if not target.get("php_version"):
        module.fail_json(msg="php_version: several PHP versions are installed and none could be tied "
                             "to %s; give php_version" % target["path"])
    return target


def _read_many(paths, skip, replacement):
    out = []
    for path in paths:
        if path == skip:
            out.append((path, replacement))
            continue
        try:
            out.append((path, read_text(path)[0]))
        except ManagedFileError:
            continue
    return out


def run_module(module):
    params = module.params
    state = params["state"]
    raw = params["directives"]
    if isinstance(raw, list) and state == "absent":
        raw = dict((name, None) for name in raw)
    if not isinstance(raw, dict):
        module.fail_json(msg="directives: must be a mapping of name: value (a list of names is "
                             "accepted only with state=absent), got %s" % type(raw).__name__)
    if not raw:
        module.fail_json(msg="directives: is empty; give at least one opcache.* directive")
    if params["path"] and not os.path.isabs(params["path"]):
        module.fail_json(msg="path: %r is not an absolute path" % params["path"])

    target = _target(module, params)
    path = target["path"]
    try:
        version = parse_php_version(target["php_version"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    host_platform = platform.system().lower() or "linux"
    normalized, warnings, errors = validate_many(raw, version, on_removed=params["on_removed"],
                                                 platform=host_platform,
                                                 for_removal=(state == "absent"))
    if errors:
        module.fail_json(msg="nothing written: %s" % "; ".join(errors), errors=errors,
                         warnings_found=warnings, path=path, php_version=version_text(version))

    # A symlinked file (Debian's conf.d/10-opcache.ini -> ../mods-available/opcache.ini) is
    # edited through the link, which stays. Our own override file is only ever a regular file
    # that we wrote: a symlink in its place means someone else manages that name, so refuse.
    try:
        real, links = file_target(path, follow=os.path.basename(path) != OVERRIDE_NAME)
        before, existed = read_text(real)
    except ManagedFileError as exc:
        module.fail_json(msg=str(exc))

    if links and os.path.islink(path):
        # Debian's mods-available file is linked from the cli, fpm and apache2 conf.d alike
        warnings.append("%s is a symlink: its target %s is edited, for every file that links to "
                        "it" % (path, real))

    def equal(name, current, wanted):
        return normalize_existing(name, current, version, host_platform) == wanted

    if state == "present":
        try:
            result = set_directives(before, normalized, equal=equal, path=path)
        except ValueError as exc:  # a value the ini syntax cannot hold (validate_many stops most)
            module.fail_json(msg="nothing written: %s" % exc, path=path)
    else:
        result = remove_directives(before, list(normalized), path=path)
    warnings.extend(result.warnings)

    overridden = []
    # PHP's read order, the file being written included where PHP would read it
    order = files_in_scan_order(target.get("php_ini"), target.get("scan_dirs"), include=path)
    if order:
        files = _read_many(order, path, result.text)
        if path not in order:
            warnings.append("%s is not among the files the php-fpm master reads (%s): PHP will not "
                            "see these settings" % (path, ", ".join(order)))
        for name in normalized:
            if state == "present":
                for setting in later_settings(files, path, name):
                    overridden.append(setting.as_dict())
                    warnings.append("%s is also set in %s line %d (%s), which PHP reads later: "
                                    "that value wins" % (name, setting.path, setting.line, setting.value))
            else:
                for other_path, text in files:
                    if other_path == path:
                        continue
                    for setting in settings(text, name, path=other_path):
                        warnings.append("%s is still set in %s line %d (%s)" % (
                            name, other_path, setting.line, setting.value))

    changed = result.changed
    backup_file = None
    if changed and not module.check_mode:
        try:
            backup_file = write_text(module, real, result.text, backup=params["backup"], existed=existed)
        except (IOError, OSError) as exc:
            module.fail_json(msg="path: cannot write %s: %s" % (real, exc))

    for warning in warnings:
        module.warn(warning)
    out = dict(changed=changed, path=path, real_path=real, reload_required=changed, directives=normalized,
               actions=result.actions, overridden_by=overridden, php_version=version_text(version),
               target=dict((k, target.get(k)) for k in ("pid", "config", "binary", "php_ini",
                                                        "scan_dirs", "rule")))
    if backup_file:
        out["backup_file"] = backup_file
    if module._diff:
        header = "%s (content)" % path if real == path else "%s (content, through the symlink %s)" % (real, path)
        out["diff"] = {"before": before, "after": result.text, "before_header": header, "after_header": header}
    if changed:
        out["msg"] = "%s: %s" % (path, ", ".join("%s %s" % (a["action"], a["name"]) for a in result.actions
                                                 if a["action"] in ("added", "updated", "removed")))
    else:
        out["msg"] = "%s: nothing to change" % path
    module.exit_json(**out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            scan_dir=dict(type="path"),
            fpm_config=dict(type="str"),
            directives=dict(type="raw", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            php_version=dict(type="str"),
            on_removed=dict(type="str", default="fail", choices=["fail", "warn"]),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
