# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the PHP lexer reports: class-like declarations, a scan's result, case folding.

Private to opcache-fleet. Standard library only, Python 3.8+ (runs on managed hosts).

These are plain values, kept apart from the lexer (``tokens.py``) so that code that
compares or reports declarations does not need to know how they were found.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

KINDS = ("class", "interface", "trait", "enum")
MODIFIERS = ("abstract", "final", "readonly")

_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


def fold_case(name):
    """Lower-case a PHP class name the way PHP does: ASCII letters only."""
    return name.translate(_ASCII_LOWER)


class Declaration:
    """One class-like declaration found in a source."""

    __slots__ = ("kind", "name", "namespace", "line", "conditional", "modifiers")

    def __init__(self, kind, name, namespace, line, conditional=False, modifiers=()):
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.line = line
        self.conditional = conditional
        self.modifiers = tuple(modifiers)

    @property
    def fqn(self):
        """Fully-qualified name in its original spelling, without leading backslash."""
        return self.namespace + "\\" + self.name if self.namespace else self.name

    @property
    def key(self):
        """The name PHP looks the class up by: the FQN folded to lower case."""
        return fold_case(self.fqn)

    def as_dict(self):
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "fqn": self.fqn,
            "line": self.line,
            "conditional": self.conditional,
            "modifiers": list(self.modifiers),
        }

    def __repr__(self):
        return "Declaration(%s %s line=%d%s)" % (
            self.kind, self.fqn, self.line, " conditional" if self.conditional else "")

    def __eq__(self, other):
        return isinstance(other, Declaration) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.kind, self.fqn, self.line))


class ScanResult:
    """What ``scan_declarations`` found.

    ``declarations``: list of Declaration in source order.
    ``halted``: ``__halt_compiler`` stopped the scan.
    ``unterminated``: None, or the lexical state the source ended in
    (``"string"``, ``"backtick"``, ``"heredoc"``, ``"nowdoc"``, ``"comment"``):
    PHP would refuse to compile such a file, so its declarations are doubtful.
    """

    __slots__ = ("declarations", "halted", "unterminated")

    def __init__(self, declarations, halted=False, unterminated=None):
        self.declarations = declarations
        self.halted = halted
        self.unterminated = unterminated

    def __repr__(self):
        return "ScanResult(%r, halted=%r, unterminated=%r)" % (
            self.declarations, self.halted, self.unterminated)
