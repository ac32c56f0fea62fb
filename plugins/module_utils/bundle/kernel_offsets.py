# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where inside its object a crash happened, from a kernel line.

Private to opcache-fleet. Standard library only, Python 3.8+. The kernel prints the faulting
instruction pointer and the mapping it fell in: ``segfault at 0 ip 00007fb1ab8ace05 sp ...
error 4 in skywalking.so[7fb1ab86b000+68000]`` (and, for traps, ``ip:7f18bb7fd710 ... in
relay.so[7f18bb7db000+8f000]``). ``ip - base`` is the offset that ``addr2line -e <object>`` or
``gdb <object>`` turn into a function and line, whatever address the object was loaded at.
"""
from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

_IP = re.compile(r"\br?ip[ :]([0-9a-fA-F]+)\b")
_OBJECT = re.compile(r" in ([^\s\[\]]+)\[([0-9a-fA-F]+)\+([0-9a-fA-F]+)\]")


def object_offset(line):
    """``{object, ip, base, size, offset}`` (hex strings, offset ``0x...``), or None when the
    line names no mapping or its ip lies outside it (then the offset would mean nothing)."""
    obj, ip = _OBJECT.search(line), _IP.search(line)
    if not obj or not ip:
        return None
    addr, base, size = int(ip.group(1), 16), int(obj.group(2), 16), int(obj.group(3), 16)
    if not base <= addr < base + size:
        return None
    return {"object": obj.group(1), "ip": ip.group(1), "base": obj.group(2), "size": obj.group(3),
            "offset": "0x%x" % (addr - base)}
