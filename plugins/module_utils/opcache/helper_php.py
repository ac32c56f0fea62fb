# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PHP helper's text: ONE fixed PHP file, kept apart from the Python that writes, runs
and removes it (opcache/helper.py).

Private to opcache-fleet. Standard library only, Python 3.8+. Nothing is ever formatted
into :data:`HELPER_PHP`; :data:`HELPER_SHA256` is pinned in the unit tests.
"""
from __future__ import absolute_import, division, print_function

import hashlib

__metaclass__ = type

# The helper. A FIXED text: it is written byte for byte as below, on every call.
# Changing it changes HELPER_SHA256, which tests pin deliberately.
HELPER_PHP = r"""<?php
// opcache-fleet helper. Fixed text, never generated: arguments arrive as JSON in
// the request body, the token in a FastCGI param; the answer is JSON echoing the nonce.
$ofWarnings = array();
set_error_handler(function ($no, $msg) use (&$ofWarnings) {
    $ofWarnings[] = $msg;
    return true;
});
header('Content-Type: application/json');
header('Cache-Control: no-store');
// Act only for the run that wrote this file: its request carries a token whose SHA-256 is
// this file's name (only the hash is on disk). A file left behind answers nobody else, and
// nobody at all once it is 10 minutes old (the writer refreshes the mtime before each call).
$ofRefusal = null;
$ofToken = isset($_SERVER['OPCACHE_FLEET_TOKEN']) ? (string) $_SERVER['OPCACHE_FLEET_TOKEN'] : '';
if ($ofToken === '' || !hash_equals(pathinfo(__FILE__, PATHINFO_FILENAME), hash('sha256', $ofToken))) {
    $ofRefusal = 'forbidden';
} else {
    clearstatcache();
    $ofMtime = @filemtime(__FILE__);
    if ($ofMtime === false || abs(time() - $ofMtime) > 600) {
        $ofRefusal = 'expired';
    }
}
// APCu's state (the user cache; php-fpm shares one per master, like OPcache). Counters,
// and the free blocks walked here because apcu_sma_info(true) has no block list: the largest
// free block bounds the biggest entry that can be stored without an expunge.
$ofApcu = function () {
    $a = array('loaded' => extension_loaded('apcu'));
    if (!$a['loaded']) {
        return $a;
    }
    $a['version'] = phpversion('apcu');
    $a['enabled'] = function_exists('apcu_enabled') && apcu_enabled();
    $a['ini'] = array();
    foreach (array('apc.shm_size', 'apc.shm_segments', 'apc.ttl', 'apc.gc_ttl', 'apc.entries_hint',
                   'apc.serializer', 'apc.slam_defense', 'apc.mmap_file_mask') as $k) {
        $a['ini'][$k] = ini_get($k);
    }
    if (!$a['enabled']) {
        return $a;
    }
    $ci = apcu_cache_info(true);
    if (is_array($ci)) {
        $a['cache'] = array();
        foreach (array('num_slots', 'ttl', 'num_hits', 'num_misses', 'num_inserts', 'num_entries',
                       'expunges', 'start_time', 'mem_size', 'memory_type') as $k) {
            $a['cache'][$k] = isset($ci[$k]) ? $ci[$k] : null;
        }
    }
    $sma = apcu_sma_info(false);
    if (is_array($sma)) {
        $blocks = 0;
        $largest = 0;
        $free = 0;
        foreach (isset($sma['block_lists']) && is_array($sma['block_lists']) ? $sma['block_lists'] : array() as $seg) {
            foreach (is_array($seg) ? $seg : array() as $b) {
                $size = isset($b['size']) ? (int) $b['size'] : 0;
                $blocks++;
                $free += $size;
                $largest = max($largest, $size);
            }
        }
        $a['sma'] = array(
            'num_seg' => isset($sma['num_seg']) ? $sma['num_seg'] : null,
            'seg_size' => isset($sma['seg_size']) ? $sma['seg_size'] : null,
            'avail_mem' => isset($sma['avail_mem']) ? $sma['avail_mem'] : null,
            'free_blocks' => $blocks,
            'free_in_blocks' => $free,
            'largest_free_block' => $largest,
        );
    }
    return $a;
};
$ofRun = function ($raw) use ($ofApcu) {
    $out = array('helper' => 'opcache-fleet', 'protocol' => 3, 'ok' => false);
    $in = json_decode((string) $raw, true);
    if (!is_array($in) || !isset($in['nonce']) || !is_string($in['nonce'])) {
        $out['error'] = 'bad_request';
        return $out;
    }
    $out['nonce'] = $in['nonce'];
    $action = isset($in['action']) && is_string($in['action']) ? $in['action'] : '';
    $args = isset($in['args']) && is_array($in['args']) ? $in['args'] : array();
    $files = array();
    if (isset($args['files']) && is_array($args['files'])) {
        foreach ($args['files'] as $f) {
            if (is_string($f)) {
                $files[] = $f;
            }
        }
    }
    $out['php_version'] = PHP_VERSION;
    $out['sapi'] = php_sapi_name();
    $out['pid'] = getmypid();
    $out['master_pid'] = function_exists('posix_getppid') ? posix_getppid() : null;
    $out['time'] = time();
    $out['pool'] = null;
    $out['fpm_start_time'] = null;
    if (function_exists('fpm_get_status')) {
        $fpm = @fpm_get_status();
        if (is_array($fpm)) {
            $out['pool'] = isset($fpm['pool']) ? $fpm['pool'] : null;
            $out['fpm_start_time'] = isset($fpm['start-time']) ? $fpm['start-time'] : null;
        }
    }
    $out['ini'] = array(
        'open_basedir' => ini_get('open_basedir'),
        'opcache.enable' => ini_get('opcache.enable'),
        'opcache.restrict_api' => ini_get('opcache.restrict_api'),
        'opcache.validate_timestamps' => ini_get('opcache.validate_timestamps'),
        'opcache.file_cache' => ini_get('opcache.file_cache'),
    );
    $out['opcache_loaded'] = function_exists('opcache_get_status');
    $out['helper_path'] = __FILE__;
    if (!$out['opcache_loaded']) {
        $out['error'] = 'opcache_not_loaded';
        return $out;
    }
    $api = (string) ini_get('opcache.restrict_api');
    $out['restricted'] = $api !== '' && strncmp(__FILE__, $api, strlen($api)) !== 0;
    clearstatcache();
    if ($action === 'status') {
        $withScripts = !empty($args['scripts']);
        $st = opcache_get_status($withScripts);
        $scripts = null;
        if (is_array($st) && isset($st['scripts']) && is_array($st['scripts'])) {
            $scripts = array();
            foreach ($st['scripts'] as $path => $s) {
                if ($path === __FILE__) {
                    continue;
                }
                $mt = @filemtime($path);
                $e = array(
                    'full_path' => $path,
                    'hits' => isset($s['hits']) ? $s['hits'] : null,
                    'memory_consumption' => isset($s['memory_consumption']) ? $s['memory_consumption'] : null,
                    'last_used_timestamp' => isset($s['last_used_timestamp']) ? $s['last_used_timestamp'] : null,
                    'cached' => opcache_is_script_cached($path),
                    'mtime' => $mt === false ? null : $mt,
                );
                if (isset($s['timestamp'])) {
                    $e['timestamp'] = $s['timestamp'];
                }
                $scripts[] = $e;
            }
            unset($st['scripts']);
        }
        $out['status'] = is_array($st) ? $st : null;
        $out['scripts'] = $scripts;
        $cf = opcache_get_configuration();
        $out['configuration'] = is_array($cf) ? $cf : null;
        $out['apcu'] = $ofApcu();
        // zend_extensions in the order they were loaded (the order php-src bug reports ask for)
        $out['zend_extensions'] = get_loaded_extensions(true);
    } elseif ($action === 'reset') {
        $out['reset'] = opcache_reset();
        $st = opcache_get_status(false);
        $out['status'] = is_array($st) ? $st : null;
    } elseif ($action === 'invalidate') {
        $force = !empty($args['force']);
        $res = array();
        foreach ($files as $f) {
            $done = opcache_invalidate($f, $force);
            $res[$f] = array('invalidated' => $done, 'cached' => opcache_is_script_cached($f));
        }
        $out['files'] = $res;
    } elseif ($action === 'apcu_clear') {
        // Cleared in this request, verified by the caller in a later one (start_time, entries).
        $out['apcu_before'] = $ofApcu();
        $out['clear_time'] = time();
        $out['cleared'] = !empty($out['apcu_before']['enabled']) ? apcu_clear_cache() : null;
        $out['apcu'] = $ofApcu();
    } elseif ($action === 'is_cached') {
        $res = array();
        foreach ($files as $f) {
            $mt = @filemtime($f);
            $res[$f] = array('cached' => opcache_is_script_cached($f), 'mtime' => $mt === false ? null : $mt);
        }
        $out['files'] = $res;
    } else {
        $out['error'] = 'unknown_action';
        return $out;
    }
    $out['ok'] = true;
    return $out;
};
if ($ofRefusal === null) {
    $ofOut = $ofRun(file_get_contents('php://input'));
} else {
    $ofOut = array('helper' => 'opcache-fleet', 'protocol' => 3, 'ok' => false, 'error' => $ofRefusal);
}
if (function_exists('opcache_is_script_cached') && @opcache_is_script_cached(__FILE__)) {
    @opcache_invalidate(__FILE__, true);
}
$ofOut['warnings'] = $ofWarnings;
echo json_encode($ofOut, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
"""
HELPER_BYTES = HELPER_PHP.encode("ascii")
HELPER_SHA256 = hashlib.sha256(HELPER_BYTES).hexdigest()
