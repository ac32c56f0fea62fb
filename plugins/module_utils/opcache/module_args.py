# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared wiring of the opcache_status / opcache_reset / opcache_culprit modules: their
common options, target selection (discovery or explicit socket) and argument checks.
Private to opcache-fleet."""
from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.targets import explicit_target, targets_from_discovery

# Options of every module that runs the PHP helper through a pool socket. Documented once in
# plugins/doc_fragments/opcache_target.py (SOCKET_ARGS; ``masters``: its DISCOVERY part) and
# opcache_helper.py (HELPER_ARGS): keep them in step with these specs.
SOCKET_ARGS = dict(
    socket=dict(type="str"),
    master_pid=dict(type="int"),
    pool=dict(type="dict"),
)
HELPER_ARGS = dict(
    helper_dir=dict(type="path", default="/var/lib/opcache-fleet"),
    document_roots=dict(type="list", elements="path", default=[]),
    request_timeout=dict(type="float", default=10.0),
    max_answer_size=dict(type="int", default=16 * 1024 * 1024),
)
# opcache_status / opcache_reset: also select discovered masters.
COMMON_ARGS = dict(SOCKET_ARGS, masters=dict(type="list", elements="str"), **HELPER_ARGS)


def discovery_available():
    try:
        from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters  # noqa: F401
    except ImportError:
        return False
    return hasattr(proc_masters, "discover")


def select_targets(module):
    """Targets for the module's params: explicit ``socket`` or discovered masters."""
    p = module.params
    if p.get("socket"):
        return [explicit_target(p["socket"], master_pid=p.get("master_pid"), pool=p.get("pool"),
                                document_roots_=p.get("document_roots"))], []
    if not discovery_available():
        module.fail_json(msg="socket is required: php-fpm discovery (proc_masters) is not available")
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters

    def run(argv, environ_update=None):
        return module.run_command(argv, environ_update=environ_update or {})

    discovered = proc_masters.discover(run_command=run)
    select = p.get("masters")
    if p.get("master_pid"):
        select = (select or []) + [str(p["master_pid"])]
    targets = targets_from_discovery(discovered, select)
    for t in targets:
        t["document_roots"] = sorted(set(t["document_roots"]) | set(p.get("document_roots") or []))
    if not targets:
        module.fail_json(msg="no running php-fpm master found%s" % (
            " matching masters=%s" % select if select else ""), warnings_discovery=discovered.get("warnings"))
    return targets, discovered.get("warnings", [])


def check_helper_dir(module):
    if module.params.get("max_answer_size") is not None and module.params["max_answer_size"] < 65536:
        module.fail_json(msg="max_answer_size must be at least 65536 bytes, got %s" % module.params["max_answer_size"])
    d = module.params["helper_dir"]
    if not os.path.isabs(d):
        module.fail_json(msg="helper_dir must be an absolute path, got %r" % d)
    for tmp in opcache_helper.PRIVATE_TMP_DIRS:
        if d == tmp or d.startswith(tmp + "/"):
            module.fail_json(msg="helper_dir=%s is under %s, which systemd PrivateTmp hides from php-fpm; "
                                 "use a directory such as /var/lib/opcache-fleet" % (d, tmp))
