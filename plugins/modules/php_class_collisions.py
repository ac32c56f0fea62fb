#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: php_class_collisions
short_description: Find PHP classes, interfaces, traits and enums declared in more than one file
description:
  - Walks PHP code roots and reports every fully-qualified class, interface, trait or
    enum name that is declared in more than one file. PHP class names are
    case-insensitive (ASCII letters), so C(App\User) and C(app\USER) collide.
  - Files are read with a real PHP lexer, not a grep; text in strings, comments,
    heredocs, nowdocs and inline HTML is not code; C(X::class), C(new class), a method
    named C(class) and C(enum) used as a name are not declarations; and
    C(namespace X;), C(namespace X { }) and C(namespace { }) set the namespace.
  - A declaration nested in a block, such as a class declared inside an C(if) that
    tests C(class_exists), or inside a function body, is still reported, marked
    C(conditional).
  - Read-only. Never changes the host.
  - "Release folders: a deployment such as C(/srv/app/releases/a), C(/srv/app/releases/b)
    holds the same code several times, but one request never loads two releases.
    With the default O(scope=per_root) each root is its own scope: give each release
    (or only the live one) as its own root. A collision whose files are all in
    different release folders of one root is flagged C(across_releases) and a
    warning is returned."
version_added: "0.1.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  roots:
    description:
      - Absolute paths of the code roots (document roots, pool C(chdir)s) to scan.
      - A root that does not exist or is not a directory gives a warning and an
        entry in RV(files_skipped); the other roots are still scanned.
      - A root that is a symlink (C(/srv/app/current)) is followed.
    type: list
    elements: path
    required: true
  scope:
    description:
      - C(per_root) reports a name only when it is declared twice under the same root.
      - C(global) treats all roots as one code base.
    type: str
    choices: [per_root, global]
    default: per_root
  exclude:
    description:
      - Shell globs (fnmatch) matched against each file or directory name and against
        its path relative to its root (C(/) separated, C(*) also matches C(/)).
        A matching directory is not entered.
    type: list
    elements: str
    default: [.git, .svn, .hg, node_modules]
  extensions:
    description:
      - File name extensions to read, with or without the dot, case-insensitive.
    type: list
    elements: str
    default: [php]
  max_files:
    description:
      - Stop after reading this many files; the result then has RV(truncated=true).
        C(0) means no limit.
    type: int
    default: 0
  max_seconds:
    description:
      - Time budget in seconds for listing and reading files. When it runs out, the files not read yet
        are left out and the result is partial, with RV(truncated=true) and RV(truncated_by=max_seconds).
        A directory tree with no PHP file in it also spends the budget, for example a pool with
        C(chdir = /). C(0) means no limit.
    type: float
    default: 0
  max_file_size:
    description:
      - Files bigger than this many bytes are skipped with reason C(too_large).
        C(0) means no limit.
    type: int
    default: 16777216
  follow_symlinks:
    description:
      - Enter symlinked directories and read symlinked files. Directory loops are
        detected and skipped, and a file reached by two paths is read once.
      - When false, symlinked C(*.php) files are listed in RV(files_skipped).
    type: bool
    default: false
  short_open_tag:
    description:
      - Treat C(<?) as an open tag, as PHP does with C(short_open_tag=On). Set it to
        match the host's php.ini (the php.ini-production default is Off).
    type: bool
    default: false
  php8:
    description:
      - C(#[) starts a PHP 8 attribute. Set to false for PHP 7 code, where C(#[) starts
        a comment.
    type: bool
    default: true
  workers:
    description:
      - Number of processes that read and lex files. C(0) means one per CPU (at most 8);
        C(1) reads in the module's own process. Small trees are always read in-process.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: The module only reads files; it does the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
notes:
  - Heredoc closing markers follow PHP 7.3 and later (indented marker, any
    non-identifier character after it).
  - A file that declares the same name twice (for example in both branches of an
    C(if)) is not a collision by itself.
"""

EXAMPLES = r"""
- name: Find colliding class names in each release separately
  php_class_collisions:
    roots:
      - /srv/app/releases/20240101
      - /srv/app/releases/20240102
  register: collisions

- name: Scan one code base spread over two directories, PHP and .inc files, no tests
  php_class_collisions:
    roots: [/var/www/shop, /usr/share/php/shop-lib]
    scope: global
    extensions: [php, inc]
    exclude: [tests, "*/Tests/*"]

- name: Fail when application code (not vendor/) declares a name twice
  ansible.builtin.assert:
    that: >-
      collisions.collisions | rejectattr('all_vendor') | list | length == 0
    fail_msg: "{{ collisions.collisions | map(attribute='name') | list }}"
"""

RETURN = r"""
collisions:
  description:
    - One entry per fully-qualified name declared in more than one file of a scope,
      sorted by RV(collisions[].key).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name as spelled in the first file (by path), without leading backslash.
      type: str
      sample: App\Models\User
    key:
      description: The name PHP looks up, folded to lower case.
      type: str
      sample: app\models\user
    kinds:
      description: The kinds of the declarations (class, interface, trait, enum).
      type: list
      elements: str
      sample: [class]
    spellings:
      description: Every spelling met, when there is more than one.
      type: list
      elements: str
      returned: when the files spell the name differently
      sample: [App\Models\User, App\Models\USER]
    root:
      description: The root (scope) of the collision; null with O(scope=global).
      type: str
      sample: /srv/app/current
    across_releases:
      description: All files are in different C(releases/*) folders of the root; not a real collision.
      type: bool
      sample: false
    all_vendor:
      description: Every file is under a C(vendor/) path segment.
      type: bool
      sample: false
    files:
      description: The declarations, sorted by path and line.
      type: list
      elements: dict
      sample:
        - {path: /srv/app/current/src/User.php, line: 7, kind: class, vendor: false, conditional: false}
        - {path: /srv/app/current/vendor/acme/compat/User.php, line: 4, kind: class, vendor: true,
           conditional: true}
files_scanned:
  description: Number of files read.
  returned: always
  type: int
  sample: 48211
declarations:
  description: Number of declarations found in the files read.
  returned: always
  type: int
  sample: 51377
files_skipped:
  description:
    - Files and directories not read, with the reason (C(root_missing),
      C(root_not_directory), C(directory_unreadable), C(unreadable), C(too_large),
      C(symlink_not_followed), C(symlink_loop), C(same_file), C(max_files_reached),
      C(max_seconds_reached))
      and a detail. At most 200 are listed.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /srv/app/current/var/cache/big.php, reason: too_large, detail: larger than 16777216 bytes}
files_skipped_count:
  description: Number of skipped entries, including those not listed.
  returned: always
  type: int
  sample: 1
files_skipped_by_reason:
  description: Skipped entries counted per reason.
  returned: always
  type: dict
  sample: {too_large: 1}
truncated:
  description: A budget (O(max_files) or O(max_seconds)) ran out and the scan is incomplete.
  returned: always
  type: bool
  sample: false
truncated_by:
  description: Which budget ran out (C(max_files) or C(max_seconds)), or null.
  returned: always
  type: str
  sample: max_seconds
files_not_read:
  description: Files that were listed but not read because the time budget ran out.
  returned: always
  type: int
  sample: 0
scope:
  description: The scope used.
  returned: always
  type: str
  sample: per_root
roots:
  description: Per scope, the files read, the declarations and the collisions found.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /srv/app/current, files: 48211, declarations: 51377, collisions: 2}
elapsed_s:
  description: Seconds spent.
  returned: always
  type: float
  sample: 4.21
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import (
    DEFAULT_EXCLUDE,
    DEFAULT_MAX_FILE_SIZE,
    find_collisions,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            roots=dict(type="list", elements="path", required=True),
            scope=dict(type="str", choices=["per_root", "global"], default="per_root"),
            exclude=dict(type="list", elements="str", default=list(DEFAULT_EXCLUDE)),
            extensions=dict(type="list", elements="str", default=["php"]),
            max_files=dict(type="int", default=0),
            max_seconds=dict(type="float", default=0),
            max_file_size=dict(type="int", default=DEFAULT_MAX_FILE_SIZE),
            follow_symlinks=dict(type="bool", default=False),
            short_open_tag=dict(type="bool", default=False),
            php8=dict(type="bool", default=True),
            workers=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["roots"]:
        module.fail_json(msg="roots: at least one directory is needed, got an empty list")
    if p["workers"] < 0:
        module.fail_json(msg="workers: must be >= 0, got %d" % p["workers"])
    try:
        result = find_collisions(
            p["roots"],
            extensions=p["extensions"],
            exclude=p["exclude"],
            max_files=p["max_files"],
            max_seconds=p["max_seconds"],
            max_file_size=p["max_file_size"],
            follow_symlinks=p["follow_symlinks"],
            scope=p["scope"],
            workers=p["workers"],
            short_open_tag=p["short_open_tag"],
            php8=p["php8"],
        )
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
