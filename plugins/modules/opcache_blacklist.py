#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: manage the entries of an OPcache blacklist file.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: opcache_blacklist
short_description: Manage entries of an OPcache blacklist file and check that PHP reads it
description:
  - Adds (O(state=present)) or removes (O(state=absent)) entries of an OPcache blacklist file,
    keeping comments and the order of the other lines. With O(exclusive=true) the file ends up
    with exactly O(entries) (comments stay).
  - Entries are absolute paths or patterns; PHP treats each as a prefix, C(*) matches inside one
    path segment, C(**) across segments, C(?) one character.
  - Entries PHP would misread are rejected before anything is written, with the reason - leading
    or trailing whitespace (PHP does not trim), a leading C(;) (a comment), relative paths (PHP
    resolves them against the blacklist file's directory), empty entries, quotes, newlines and
    paths PHP would normalise (C(//), C(/./), C(/../), a trailing C(/)).
  - Checks that the file is matched by the effective C(opcache.blacklist_filename) glob of a
    php-fpm master (read from the ini files in effect, or given as O(blacklist_filename)); PHP
    never reads a file that is not matched. Warns, or fails with O(require_loaded=true).
  - PHP reads blacklist files only when php-fpm starts or reloads (not on C(opcache_reset()));
    the module returns RV(reload_required) and never reloads by itself.
version_added: "0.1.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  path:
    description:
      - The blacklist file. Created (mode C(0644), owner root) when missing; its directory must exist
        (it is never created).
      - A symlink is followed - its target is edited in place (atomic rename in the target's
        directory, owner, mode and SELinux context kept, backup next to the target) and the link
        stays. A dangling link, a link to something other than a regular file or into C(/proc),
        C(/sys) or C(/dev) fails. A file named C(opcache-fleet.blacklist), or named by the module
        from the glob, is written only by this module and must not be a symlink.
      - Fails, writing nothing, when another user could redirect the write - a directory on the
        way (or a symlink) not owned by root, or writable by other users (a sticky directory such
        as C(/tmp) may be passed through, the file's own directory may not be one).
      - "Default: a file named by the effective C(opcache.blacklist_filename) of the master
        (O(fpm_config) selects it when several run): that path itself when it has no wildcard,
        else the glob with its C(*) filled in, C(/etc/php.d/opcache*.blacklist) giving
        C(/etc/php.d/opcache-fleet.blacklist). Fails when the master has no blacklist glob."
    type: path
  fpm_config:
    description: Only consider the running php-fpm master with this main config file.
    type: str
  entries:
    description: Absolute paths or patterns, one per line in the file.
    type: list
    elements: str
    default: []
  state:
    description: Whether the entries should be in the file or not.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description: With O(state=present), remove every other entry line (comments stay).
    type: bool
    default: false
  blacklist_filename:
    description:
      - The C(opcache.blacklist_filename) glob PHP uses. Default, read from the ini files in effect
        of every running php-fpm master (php.ini, then the scan directories; the last value wins).
    type: str
  require_loaded:
    description: Fail (and write nothing) when no master's C(opcache.blacklist_filename) matches O(path).
    type: bool
    default: false
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
seealso:
  - module: phpfpm.opcache_fleet.opcache_ini
"""

EXAMPLES = r"""
- name: Keep the crashing report page out of OPcache
  opcache_blacklist:
    path: /etc/php.d/opcache-fleet.blacklist
    entries:
      - /srv/app/releases/b/report.php
    require_loaded: true
    backup: true
  register: blacklist_result

- name: Make the Debian master read a blacklist file first
  opcache_ini:
    directives:
      opcache.blacklist_filename: /etc/php/8.2/fpm/opcache-*.blacklist

- name: Drop an entry again
  opcache_blacklist:
    path: /etc/php.d/opcache-fleet.blacklist
    entries: [/srv/app/releases/b/report.php]
    state: absent
"""

RETURN = r"""
path:
  description: The blacklist file, as the glob names it.
  returned: always
  type: str
  sample: /etc/php.d/opcache-fleet.blacklist
real_path:
  description: The file actually read and replaced - RV(path), or the target of the symlink RV(path).
  returned: always
  type: str
  sample: /etc/php.d/opcache-fleet.blacklist
changed:
  description: True only when the file content changed (or would, in check mode).
  returned: always
  type: bool
reload_required:
  description: The file changed and PHP reads it (a reload makes it effective).
  returned: always
  type: bool
entries:
  description: The entries PHP loads from the file after the change, in order.
  returned: always
  type: list
  elements: str
  sample: [/srv/app/releases/b/report.php]
added:
  description: Entries added.
  returned: always
  type: list
  elements: str
removed:
  description: Entry lines removed.
  returned: always
  type: list
  elements: str
loaded:
  description: Whether a php-fpm master's C(opcache.blacklist_filename) glob matches the file (null when unknown).
  returned: always
  type: bool
blacklist_filenames:
  description: The effective C(opcache.blacklist_filename) per master (or the given one).
  returned: always
  type: list
  elements: dict
  sample: [{"config": "/etc/php-fpm.conf", "blacklist_filename": "/etc/php.d/opcache*.blacklist", "matches": true}]
backup_file:
  description: The backup copy of RV(real_path), next to it, when O(backup=true) and the file changed.
  returned: when backed up
  type: str
diff:
  description: Before/after text with headers naming RV(real_path) (and the link, if any) (with C(--diff)).
  returned: when diff mode is on
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.blacklist import (
    OWN_FILE_NAME, check_entries, edit, glob_matches, path_for_glob, read_entries)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.target import TargetError, describe_all
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.scan_order import files_in_scan_order, scan_order_winner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.managed_file import (
    ManagedFileError, read_text, write_text)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.managed_file import target as file_target


def _effective_globs(module):
    """[{config, binary, blacklist_filename}] for every running master (or installed binary)."""
    def run(argv, env_update):
        return module.run_command(argv, environ_update=env_update or None)

    found = []
    try:
        described = describe_all(run, fpm_config=module.params["fpm_config"])
    except TargetError as exc:
        module.warn("blacklist_filename: could not discover php-fpm: %s" % exc)
        return found
    for master in described:
        files = []
        for path in files_in_scan_order(master.get("php_ini"), master.get("scan_dirs")):
            try:
                files.append((path, read_text(path)[0]))
            except ManagedFileError:
                continue
        winner = scan_order_winner(files, "opcache.blacklist_filename")
        found.append({"config": master.get("config"), "binary": master.get("binary"),
                      "blacklist_filename": winner.value if winner else "",
                      "set_in": winner.path if winner else None})
    return found


def run_module(module):
    params = module.params
    path = params["path"]
    invented = False   # True when the file name is ours (filled into the glob's wildcard)
    if path is not None and not os.path.isabs(path):
        module.fail_json(msg="path: %r is not an absolute path" % path)
    entries, errors, warnings = check_entries(params["entries"])
    if errors:
        module.fail_json(msg="nothing written: %s" % "; ".join(errors), errors=errors, path=path)
    if params["state"] == "absent" and params["exclusive"]:
        warnings.append("exclusive: has no effect with state=absent")
    if not entries and not (params["state"] == "present" and params["exclusive"]):
        module.fail_json(msg="entries: is empty; give at least one entry (or exclusive=true to empty "
                             "the file)")

    if params["blacklist_filename"] is not None:
        globs = [{"config": None, "binary": None, "blacklist_filename": params["blacklist_filename"],
                  "set_in": "blacklist_filename parameter"}]
    else:
        globs = _effective_globs(module)
    if path is None:
        patterns = sorted(set(g["blacklist_filename"] for g in globs))
        if len(patterns) != 1 or not patterns[0]:
            module.fail_json(msg="path: not given and the effective opcache.blacklist_filename does not "
                                 "name one file (%s); give path, fpm_config or set the glob with "
                                 "opcache_ini first" % (", ".join("%r (%s)" % (g["blacklist_filename"], g["config"])
                                                                  for g in globs) or "no php-fpm master found"),
                             blacklist_filenames=globs)
        path = path_for_glob(patterns[0])
        invented = path is not None and path != patterns[0]
        if path is None:
            module.fail_json(msg="path: cannot derive a file name from opcache.blacklist_filename %r; "
                                 "give path" % patterns[0], blacklist_filenames=globs)
    for item in globs:
        item["matches"] = bool(item["blacklist_filename"]) and glob_matches(item["blacklist_filename"], path)
    loaded = any(item["matches"] for item in globs) if globs else None
    if not loaded:
        if loaded is None:
            why = "no php-fpm master was found to read opcache.blacklist_filename from"
        else:
            why = "opcache.blacklist_filename is %s" % ", ".join(
                "%r (%s)" % (g["blacklist_filename"], g.get("config") or g.get("set_in") or "given")
                for g in globs)
        message = ("path: %s is not matched by the effective opcache.blacklist_filename glob, so PHP "
                   "would never read it: %s" % (path, why))
        if params["require_loaded"]:
            module.fail_json(msg=message + "; nothing written", blacklist_filenames=globs, path=path)
        warnings.append(message)

    # A symlinked blacklist is edited through the link, which stays; a file whose name we
    # chose is only ever a regular file we wrote: a symlink there is refused (as opcache_ini).
    own = invented or os.path.basename(path) == OWN_FILE_NAME
    try:
        real, links = file_target(path, follow=not own)
        before, existed = read_text(real)
    except ManagedFileError as exc:
        module.fail_json(msg=str(exc))
    if links and os.path.islink(path):
        # Debian's mods-available file is linked from the cli, fpm and apache2 conf.d alike
        warnings.append("%s is a symlink: its target %s is edited, for every file that links to "
                        "it" % (path, real))

    result = edit(before, entries, state=params["state"], exclusive=params["exclusive"])
    backup_file = None
    if result.changed and not module.check_mode:
        try:
            backup_file = write_text(module, real, result.text, backup=params["backup"], existed=existed)
        except (IOError, OSError) as exc:
            module.fail_json(msg="path: cannot write %s: %s" % (real, exc))
    for warning in warnings:
        module.warn(warning)
    out = dict(changed=result.changed, path=path, real_path=real, reload_required=bool(result.changed and loaded is not False),
               entries=read_entries(result.text), added=result.added, removed=result.removed,
               loaded=loaded, blacklist_filenames=globs)
    if backup_file:
        out["backup_file"] = backup_file
    if module._diff:
        header = "%s (content)" % path if real == path else "%s (content, through the symlink %s)" % (real, path)
        out["diff"] = {"before": before, "after": result.text, "before_header": header, "after_header": header}
    out["msg"] = "%s: added %d, removed %d" % (path, len(result.added), len(result.removed)) \
        if result.changed else "%s: nothing to change" % path
    module.exit_json(**out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            fpm_config=dict(type="str"),
            entries=dict(type="list", elements="str", default=[]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            exclusive=dict(type="bool", default=False),
            blacklist_filename=dict(type="str"),
            require_loaded=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
