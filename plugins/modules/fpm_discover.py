#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fpm_discover: read-only discovery of php-fpm masters, pools, ini files and nginx."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fpm_discover
short_description: Discover running php-fpm masters, their pools and ini files, and nginx's view of them
description:
  - "Finds every running php-fpm master in C(/proc) by its title
    C(php-fpm: master process (/path/php-fpm.conf)), reads its config file and all
    C(include) files (globs, C($pool), C(${ENV}), prefix-relative paths), and reports each
    pool (listen address, user, chroot, logs, timeouts, per-pool C(php_value) and
    C(php_admin_value))."
  - "A title is not enough: a process counts as a php-fpm (or nginx) master only when
    C(/proc/PID/status) says root owns it (real, effective, saved and fs uid 0), its parent
    is root's (init, systemd, supervisord, s6, tini, a container shim) or it is PID 1 of its
    namespace, and its binary (the running inode and the file at that path) belongs to root,
    is writable by nobody else and sits in directories up to C(/) that only root can write.
    Any other process with such a title (for instance a local user's
    C(exec -a 'php-fpm: master process (...)')) is never run, its environment and config
    are never read, and it is named in C(warnings_found) with its pid, uid, binary and the
    failed check."
  - "A master whose binary was replaced since it started (C((deleted)) in C(/proc/PID/exe),
    typically a package upgrade) is trusted when the file now at that path passes the same
    checks; its config is read but no binary is run. One whose binary path is gone is not
    trusted."
  - Gets the PHP version and the ini files in effect by running the master's own binary
    (C(-v), C(-i)) with the same C(-c)/C(-d) options and C(PHP_INI_SCAN_DIR)/C(PHPRC)
    environment; php-fpm wipes those from C(/proc/PID/cmdline) and C(/proc/PID/environ), so
    they are read from the systemd unit named in C(/proc/PID/cgroup) when needed.
  - Reads C(nginx -T) (when nginx is installed) for its error log files and tells which
    C(fastcgi_pass) target reaches which pool. Without a trusted running nginx master, an
    installed C(/usr/sbin/nginx), C(/usr/local/sbin/nginx) or C(/usr/local/nginx/sbin/nginx)
    is run only when it passes the same ownership checks.
  - Warns about per-pool C(opcache.*) or C(extension) overrides (tied to php-src crashes
    GH-23355 and GH-23288) and about an unset C(emergency_restart_threshold).
  - Problems with config files are reported by path and line, never with the file's
    content (an C(include) may name any file root can read).
  - Never changes anything on the host; C(changed) is always false.
  - Inventory variables can replace any discovered path.
version_added: "0.1.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  masters:
    description:
      - Use these masters instead of scanning C(/proc).
      - Each item needs C(config); C(binary), C(pid), C(php_ini), C(ini_scan_dir) and
        C(error_log) are optional.
      - A C(pid) that is not a running, trusted php-fpm master is ignored (with a warning);
        the item is then described from its C(config) and C(binary) alone.
    type: list
    elements: dict
  php_ini:
    description: php.ini path to use for every master (replaces the discovered one).
    type: path
  ini_scan_dir:
    description:
      - Ini scan directory (as C(PHP_INI_SCAN_DIR), several separated by C(:)) for every
        master; replaces the discovered one. An empty string means no scan directory.
    type: str
  fpm_error_logs:
    description: php-fpm error log files to report in C(fpm_error_logs) instead of the discovered ones.
    type: list
    elements: path
  nginx_error_logs:
    description: nginx error log files to report in C(nginx.error_logs) instead of the discovered ones.
    type: list
    elements: path
  nginx_binary:
    description: nginx binary to run C(nginx -T) with, instead of the running master's or C(/usr/sbin/nginx).
    type: path
  nginx:
    description: Set to false to skip nginx entirely.
    type: bool
    default: true
  proc_root:
    description: Where the proc filesystem is mounted (tests point it at a fake tree).
    type: path
    default: /proc
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same data.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
notes:
  - Runs C(systemctl show), the php-fpm binary with C(-v)/C(-i) and C(nginx -V)/C(nginx -T)
    as argument lists; needs root to read other users' C(/proc) entries and nginx's files.
  - The ini files reported are the ones the binary reads now; a master started before an ini
    file was added or removed may still run with the old set until it is reloaded.
"""

EXAMPLES = r"""
- name: Discover php-fpm and nginx on the web servers
  fpm_discover:
  register: discovered

- name: Show every pool with the nginx sites that reach it
  ansible.builtin.debug:
    msg: "{{ item.0.config }} {{ item.1.name }} {{ item.1.listen }} {{ item.1.nginx | map(attribute='server_name') | list }}"
  loop: "{{ discovered.masters | subelements('pools') }}"

- name: Use inventory paths on a host whose logs live elsewhere
  fpm_discover:
    fpm_error_logs: "{{ fpm_error_logs | default(omit) }}"
    nginx_error_logs: "{{ nginx_error_logs | default(omit) }}"

- name: Describe a master that is not running (or not visible in /proc)
  fpm_discover:
    masters:
      - config: /etc/opt/remi/php81/php-fpm.conf
        binary: /opt/remi/php81/root/usr/sbin/php-fpm
    nginx: false
"""

RETURN = r"""
masters:
  description: One entry per php-fpm master (each has its own OPcache).
  returned: always
  type: list
  elements: dict
  contains:
    master_pid: {description: PID of the master (null for an inventory master without pid)., type: int, sample: 812}
    in_container:
      description: >-
        The master runs in another mount namespace (a container seen from the host): its
        files were read through C(/proc/PID/root) and its binary was not run.
      type: bool
    binary: {description: php-fpm binary (C(/proc/PID/exe))., type: str, sample: /usr/sbin/php-fpm8.2}
    binary_deleted: {description: The binary on disk was replaced since the master started., type: bool}
    php_version: {description: From C(binary -v)., type: str, sample: 8.2.36}
    config: {description: Main php-fpm config file., type: str, sample: /etc/php/8.2/fpm/php-fpm.conf}
    config_files: {description: 'Main config then every included file, in load order.', type: list, elements: str}
    prefix: {description: php-fpm C(-p) prefix or null., type: str}
    php_prefix: {description: Compiled PHP prefix that relative paths fall back to., type: str, sample: /usr}
    error_log: {description: "Resolved master error log: a path, C(syslog), or C(/proc/self/fd/2)."
                 , type: str, sample: /var/log/php8.2-fpm.log}
    error_log_kind: {description: "C(file), C(syslog) or C(stderr).", type: str, sample: file}
    pid_file: {description: Resolved C(pid) directive or null., type: str}
    emergency_restart_threshold: {description: 0 when unset., type: int, sample: 0}
    emergency_restart_interval: {description: Seconds; 0 when unset., type: int, sample: 0}
    process_control_timeout: {description: Seconds; 0 when unset., type: int, sample: 0}
    systemd_unit: {description: Service from C(/proc/PID/cgroup)., type: str, sample: php8.2-fpm.service}
    environment: {description: 'C(PHP_INI_SCAN_DIR)/C(PHPRC) the master runs with, if known.', type: dict}
    defines: {description: C(-d name=value) options of the master., type: dict}
    ini:
      description: Ini files in effect.
      type: dict
      contains:
        php_ini: {description: Loaded php.ini or null., type: str, sample: /etc/php/8.2/fpm/php.ini}
        scan_dir: {description: Scan dir(s) or null., type: str, sample: /etc/php/8.2/fpm/conf.d}
        files: {description: 'php.ini then the scanned files in load order.', type: list, elements: str}
        extensions: {description: Every C(extension)/C(zend_extension) value in those files., type: list, elements: str}
    opcache:
      description: C(opcache.*) directives as set in the ini files (last one wins), plus C(-d) options; unset directives are absent.
      type: dict
      sample: {opcache.enable: "1", opcache.validate_timestamps: "0"}
    opcache_reported:
      description: C(opcache.*) master values as C(binary -i) prints them (defaults included); empty if it could not run.
      type: dict
    pools:
      description: Pools of this master in definition order.
      type: list
      elements: dict
      contains:
        name: {description: Pool name., type: str, sample: www}
        listen: {description: Listen address; unix paths are absolute., type: str, sample: /run/php/php8.2-fpm.sock}
        listen_kind: {description: C(unix) or C(tcp)., type: str, sample: unix}
        listen_owner: {description: listen.owner., type: str}
        listen_group: {description: listen.group., type: str}
        listen_mode: {description: listen.mode., type: str}
        user: {description: Pool user., type: str, sample: www-data}
        group: {description: Pool group., type: str, sample: www-data}
        chroot: {description: Resolved chroot or null., type: str}
        chdir: {description: Resolved chdir or null., type: str}
        access_log: {description: Resolved access.log or null., type: str}
        slowlog: {description: Resolved slowlog or null., type: str}
        request_slowlog_timeout: {description: Seconds; 0 when off., type: int}
        request_terminate_timeout: {description: Seconds; 0 when off., type: int}
        pm: {description: 'static, dynamic or ondemand.', type: str}
        pm_max_children: {description: pm.max_children., type: int}
        pm_max_requests: {description: pm.max_requests (0 when unset)., type: int}
        security_limit_extensions: {description: Allowed script extensions., type: list, elements: str, sample: [.php, .phar]}
        php_values: {description: "php_value[...] and php_flag[...] (flags as C(1)/C(0))", type: dict}
        php_admin_values: {description: "php_admin_value[...] and php_admin_flag[...]", type: dict}
        opcache_overrides: {description: "Per-pool opcache.* settings: {directive: {value, via}}", type: dict}
        extension_overrides: {description: "Per-pool extension/zend_extension: [{directive, value, via}]", type: list}
        open_basedir: {description: Per-pool open_basedir (admin value wins) or null., type: str}
        open_basedir_effective: {description: 'The per-pool value, else the ini files'' open_basedir, else null.', type: str}
        env: {description: "env[...] entries.", type: dict}
        running_children: {description: Children of this pool seen in /proc., type: int}
        nginx: {description: "nginx uses of this pool: [{server_name, root, location}]", type: list}
        sources: {description: "file:line of each [pool] section header.", type: list}
    errors: {description: Problems reading this master's files., type: list, elements: str}
    notes: {description: What could not be confirmed and why., type: list, elements: str}
nginx:
  description: nginx as C(nginx -T) shows it.
  returned: always
  type: dict
  contains:
    present: {description: An nginx binary was found., type: bool}
    running: {description: An nginx master process runs., type: bool}
    master_pid: {description: nginx master PID or null., type: int}
    binary: {description: nginx binary used., type: str, sample: /usr/sbin/nginx}
    version: {description: From C(nginx -V)., type: str, sample: 1.22.1}
    config: {description: Main config file., type: str, sample: /etc/nginx/nginx.conf}
    config_files: {description: Every file C(nginx -T) dumped., type: list, elements: str}
    error_logs: {description: Unique error log files (or the C(nginx_error_logs) option)., type: list, elements: str, sample: [/var/log/nginx/error.log]}
    error_log_entries: {description: "Every error_log: {path, kind, level, context, server_name, file, line}", type: list}
    servers:
      description: >-
        server blocks: {server_name, server_names, listen, root, fastcgi_pass,
        locations: [{location, root, alias, fastcgi_pass, error_logs}], file, line}
      type: list
    upstreams: {description: "upstream name -> [{address, flags}]", type: dict}
    fastcgi_targets:
      description:
        - "Each fastcgi_pass use that reaches a pool: {target, via, pool, master_pid, config, server_name, root, location,
          script_filename, root_resolved, server_names, listen, endpoint}"
        - C(script_filename) is the C(fastcgi_param SCRIPT_FILENAME) in effect there, C({value, file, line}), or null when
          none is. nginx inherits fastcgi_param from the level above only when a level has none of its own.
        - C(root_resolved) is the root with its symlinks resolved, for example a deploy's C(current) to C(releases/<x>).
        - C(server_names) and C(listen) are those of the server block; C(endpoint) is how a request from the host
          itself reaches it, C({scheme, port, address}) - plain HTTP first, then C(ssl) listens (an HTTPS-only site
          gives C(https) and 443); C(address) is null when the listen takes every or a loopback address; null when
          the server listens on unix sockets only.
      type: list
      sample:
        - {target: "unix:/run/php/php8.2-fpm.sock", via: null, pool: www, master_pid: 812,
           config: /etc/php/8.2/fpm/php-fpm.conf, server_name: _, root: /srv/app/releases, location: "~ \\.php$"}
    unmatched_targets:
      description:
        - "fastcgi_pass uses that reach no discovered pool: {target, via, server_name, root, location, reason}."
        - "With reason C(no discovered pool listens there), C(local) tells whether the target is on this host
          (a unix socket, loopback or one of its addresses: a php-fpm should listen there) or elsewhere."
      type: list
    errors: {description: Problems running or parsing nginx., type: list, elements: str}
fpm_error_logs:
  description: php-fpm error log files of all masters (or the C(fpm_error_logs) option).
  returned: always
  type: list
  elements: str
  sample: [/var/log/php8.2-fpm.log]
warnings_found:
  description: >-
    Same text as the module warnings: first the processes that look like masters but
    are not trusted ("pid N looks like a php-fpm master (uid U, exe PATH) but is not
    trusted: REASON; it was neither run nor read"), then per-pool opcache/extension
    overrides, unset emergency_restart_threshold, unreadable files, unmatched fastcgi_pass.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.runner import make_runner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.masters import discover

MASTER_KEYS = ("config", "binary", "pid", "php_ini", "ini_scan_dir", "error_log")


def check_masters(module, masters):
    """Validate the masters option; returns a clean list or fails naming the item."""
    clean = []
    for idx, item in enumerate(masters or []):
        unknown = sorted(set(item) - set(MASTER_KEYS))
        if unknown:
            module.fail_json(msg="masters[%d]: unknown key(s) %s; allowed: %s"
                             % (idx, ", ".join(unknown), ", ".join(MASTER_KEYS)))
        config = item.get("config")
        if not config or not str(config).startswith("/"):
            module.fail_json(msg="masters[%d].config must be an absolute path, got %r" % (idx, config))
        entry = {"config": str(config)}
        for key in ("binary", "php_ini", "error_log"):
            if item.get(key) is not None:
                value = str(item[key])
                if not value.startswith("/"):
                    module.fail_json(msg="masters[%d].%s must be an absolute path, got %r" % (idx, key, value))
                entry[key] = value
        if item.get("ini_scan_dir") is not None:
            entry["ini_scan_dir"] = str(item["ini_scan_dir"])
        if item.get("pid") is not None:
            try:
                pid = int(item["pid"])
            except (TypeError, ValueError):
                pid = 0
            if pid <= 0:
                module.fail_json(msg="masters[%d].pid must be a positive integer, got %r" % (idx, item["pid"]))
            entry["pid"] = pid
        clean.append(entry)
    return clean


def main():
    module = AnsibleModule(
        argument_spec=dict(
            masters=dict(type="list", elements="dict"),
            php_ini=dict(type="path"),
            ini_scan_dir=dict(type="str"),
            fpm_error_logs=dict(type="list", elements="path"),
            nginx_error_logs=dict(type="list", elements="path"),
            nginx_binary=dict(type="path"),
            nginx=dict(type="bool", default=True),
            proc_root=dict(type="path", default="/proc"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    masters = check_masters(module, params["masters"])
    if not os.path.isdir(params["proc_root"]):
        module.fail_json(msg="proc_root must be a directory, got %r" % params["proc_root"])
    if params["nginx_binary"] and not os.path.isfile(params["nginx_binary"]):
        module.fail_json(msg="nginx_binary does not exist: %r" % params["nginx_binary"])
    overrides = {
        "masters": masters,
        "php_ini": params["php_ini"],
        "ini_scan_dir": params["ini_scan_dir"],
        "fpm_error_logs": params["fpm_error_logs"],
        "nginx_error_logs": params["nginx_error_logs"],
        "nginx_binary": params["nginx_binary"],
        "nginx": params["nginx"],
    }
    result = discover(make_runner(module), proc_root=params["proc_root"], overrides=overrides)
    for text in result["warnings"]:
        module.warn(text)
    module.exit_json(changed=False, masters=result["masters"], nginx=result["nginx"],
                     fpm_error_logs=result["fpm_error_logs"], warnings_found=result["warnings"])


if __name__ == "__main__":
    main()
