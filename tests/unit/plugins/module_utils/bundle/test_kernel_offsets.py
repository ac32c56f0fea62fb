# SPDX-License-Identifier: GPL-3.0-or-later
"""bundle/kernel_offsets.py on real kernel lines (sources in tests/unit/fixtures/signatures/)."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.kernel_offsets import object_offset


@pytest.mark.parametrize("line, obj, offset", [
    # skywalking #385
    ("Jun 10 13:50:42 kernel: [4417665.769934] php-fpm[2226658]: segfault at 0 ip 00007fb1ab8ace05 sp "
     "00007ffecc84fa10 error 4 in skywalking.so[7fb1ab86b000+68000]", "skywalking.so", "0x41e05"),
    # ZendOptimizerPlus #169, 32-bit
    ("php[25427]: segfault at c9 ip b779bf71 sp bf876e00 error 4 in opcache.so[b7797000+1c000]", "opcache.so", "0x4f71"),
    # php-src #14261, kernel >= 6.1 tail
    ("php-fpm8.2[2107797]: segfault at 7f377e872428 ip 0000562b0b8d9ebd sp 00007ffcd580fec0 error 4 in "
     "php-fpm8.2[562b0b6ba000+309000] likely on CPU 3 (core 3, socket 0)", "php-fpm8.2", "0x21febd"),
    # relay #117: a trap, "ip:" form
    ("[5634701.367340] traps: php-fpm[1426690] general protection fault ip:7f18bb7fd710 sp:7fff2341e630 error:0 "
     "in relay.so[7f18bb7db000+8f000]", "relay.so", "0x22710"),
    # oerdnj/deb.sury.org #526: divide error
    ("traps: php-fpm7.1[16876] trap divide error ip:7fb0511cfa53 sp:7ffdf453f210 error:0 in "
     "opcache.so[7fb051196000+59000]", "opcache.so", "0x39a53"),
])
def test_offset_inside_the_object(line, obj, offset):
    found = object_offset(line)
    assert found["object"] == obj and found["offset"] == offset


@pytest.mark.parametrize("line", [
    # deb.sury.org #32: no mapping named
    "php5-fpm[11049]: segfault at 54534f505f ip 00000054534f505f sp 00007fff8ed6fb08 error 14",
    # an ip outside the mapping it names: an offset would mean nothing
    "php[1]: segfault at 0 ip 0000000000001000 sp 0 error 4 in libc.so.6[7f0000000000+195000]",
    "php[1]: segfault at 0 ip 00007f0000195000 sp 0 error 4 in libc.so.6[7f0000000000+195000]",  # one past the end
    "[pool www] child 2418 exited on signal 11 (SIGSEGV)",
])
def test_no_offset_without_a_mapping_that_holds_the_ip(line):
    assert object_offset(line) is None
