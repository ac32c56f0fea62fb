# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PHP lexer that finds class-like declarations reliably.

This follows the lexical states of PHP's own scanner (Zend/zend_language_scanner.l):
inline HTML, ``<?php`` / ``<?=`` / ``<?`` (short tags, when enabled) and ``?>``,
single- and double-quoted strings with escapes and ``{$...}`` / ``${...}``
interpolation (which may contain strings of their own), backticks, heredoc and
nowdoc with PHP 7.3 flexible closing markers, ``#`` / ``//`` comments (which
end at ``?>``), ``/* */`` comments, PHP 8 ``#[Attributes]`` and
``__halt_compiler``.

It is a *skimming* lexer: every lexical state change is followed exactly, but
ordinary code tokens (variables, operators, most identifiers) are skipped by the
regular expression engine instead of being produced one by one, which keeps it
fast enough for tens of thousands of files in pure Python. Only the tokens that
matter for declarations are looked at: the keywords ``class``, ``interface``,
``trait``, ``enum``, ``namespace``, ``__halt_compiler``, the control keywords that
open an alternative-syntax block (``if (...):`` ... ``endif;``), braces, and, while
a control condition is being read, parentheses.

It works on bytes, like PHP: identifiers are ``[a-zA-Z_\x80-\xff][a-zA-Z0-9_\x80-\xff]*``
and keywords and class names fold ASCII letters only. Names are decoded as UTF-8
(invalid bytes replaced) only when reported.

Public API:

- ``scan_declarations(source, short_open_tag=False, php8=True)`` -> ``ScanResult``

The result types (``Declaration``, ``ScanResult``) and ``fold_case`` live in
``declarations.py``.

Only the Python standard library is used (this runs on managed hosts).
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.declarations import (
    MODIFIERS, Declaration, ScanResult)

__metaclass__ = type

_ID_CH = rb"a-zA-Z0-9_\x80-\xff"
_ID = rb"[a-zA-Z_\x80-\xff][" + _ID_CH + rb"]*"
_NAME = _ID + rb"(?:\\" + _ID + rb")*"
_NL = rb"(?:\r\n|\n|\r)"
_LINE_COMMENT_BODY = rb"[^\r\n?]*(?:\?(?!>)[^\r\n?]*)*"

_KW_DECL = (b"class", b"interface", b"trait", b"enum")
_KW_OPEN = (b"if", b"while", b"for", b"foreach", b"switch")
_KW_CLOSE = (b"endif", b"endwhile", b"endfor", b"endforeach", b"endswitch")
_ALT_END = re.compile(rb"end(?:if|while|for|foreach|switch)(?![" + _ID_CH + rb"])")


def _keyword(kw):
    """A keyword alternative that starts with a literal byte.

    After the first byte, fixed-width lookbehinds drop the commonest non-keyword
    uses inside the regular expression engine: part of a longer name ("subclass",
    "$class", "Foo\\Class") and member access without spaces ("::class", "->class").
    """
    first = re.escape(kw[:1])
    return (first
            + rb"(?<![" + _ID_CH + rb"$\\]" + first + rb")(?<!::" + first + rb")(?<!->" + first + rb")"
            + re.escape(kw[1:]) + rb"(?![" + _ID_CH + rb"\\])")


def _code_pattern(php8, alt, parens, braces):
    """The search pattern of the code state, run over the lower-cased source.

    Every alternative starts with a literal byte and there are no groups, so the
    regular expression engine can skip uninteresting bytes with a character-set
    prefix scan; the caller dispatches on the first byte of each match. Braces
    are matched one by one only inside a string interpolation; elsewhere the
    caller counts them in the code between two matches.
    """
    keywords = _KW_DECL + (b"namespace", b"__halt_compiler")
    if alt:
        keywords += _KW_OPEN + _KW_CLOSE
    parts = [
        # a whole double-quoted string without {$ / ${ interpolation, else just "
        rb'"(?:[^"\\{$]*(?:(?:\\.|\{(?!\$)|\$(?!\{))[^"\\{$]*)*")?',
        rb"'[^'\\]*(?:\\.[^'\\]*)*(?:'|\\?\Z)",
        rb"`",
        rb"<<<",
        # single-line comments end before a newline or before "?>"
        rb"//" + _LINE_COMMENT_BODY,
        (rb"#(?!\[)" if php8 else rb"#") + _LINE_COMMENT_BODY,
        rb"/\*.*?(?:\*/|\Z)",
        rb"\?>",
    ]
    if braces:
        parts += [rb"\{", rb"\}"]
    if parens:
        parts += [rb"\(", rb"\)"]
    for kw in sorted(keywords, key=lambda k: (-len(k), k)):
        parts.append(_keyword(kw))
    return re.compile(b"|".join(parts), re.DOTALL)


_CODE = {}


def _code(php8, alt, parens, braces):
    key = (php8, alt, parens, braces)
    pat = _CODE.get(key)
    if pat is None:
        pat = _CODE[key] = _code_pattern(php8, alt, parens, braces)
    return pat


# run over the lower-cased source
_OPEN_TAG = re.compile(rb"<\?(?:php(?=[ \t\r\n]|\Z)|=)")
_OPEN_TAG_SHORT = re.compile(rb"<\?(?:php(?=[ \t\r\n]|\Z)|=)?")
# run over the original source (heredoc labels are case-sensitive)
_HEREDOC_START = re.compile(
    rb"<<<[ \t]*(?:\"(" + _ID + rb")\"|'(" + _ID + rb")'|(" + _ID + rb"))" + _NL)
_DQ_BODY = re.compile(rb'\\.|"|\{\$|\$\{', re.DOTALL)
_BT_BODY = re.compile(rb"\\.|`|\{\$|\$\{", re.DOTALL)
_SQ_CLOSED = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'\Z", re.DOTALL)
_WS = re.compile(rb"[ \t\r\n]*")
_LINE_COMMENT = {
    True: re.compile(rb"(?://|#(?!\[))" + _LINE_COMMENT_BODY),
    False: re.compile(rb"(?://|#)" + _LINE_COMMENT_BODY),
}
_BLOCK_COMMENT = re.compile(rb"/\*.*?(?:\*/|\Z)", re.DOTALL)
_SIG_TOKEN = re.compile(rb"\?>|::|->|\\?" + _NAME + rb"|.", re.DOTALL)
_IDENT_FULL = re.compile(_ID + rb"\Z")
_HEREDOC_CACHE = {}

_IS_ID = bytes(
    1 if (c >= 0x80 or c == 0x5F or 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A)
    else 0
    for c in range(256)
)
_WS_BYTES = frozenset(b" \t\r\n")

_DQ, _SQ, _BT, _LT, _SLASH, _HASH, _QM, _LB, _RB, _LP, _RP = (
    ord(c) for c in "\"'`</#?{}()")


def _heredoc_patterns(label):
    """(heredoc body pattern, nowdoc end pattern) for a label (bytes)."""
    pats = _HEREDOC_CACHE.get(label)
    if pats is None:
        # PHP >= 7.3: the closing marker may be indented and may be followed by
        # anything that is not an identifier character.
        end = rb"^[ \t]*" + re.escape(label) + rb"(?![" + _ID_CH + rb"])"
        pats = (
            re.compile(end + rb"|\\.|\{\$|\$\{", re.MULTILINE | re.DOTALL),
            re.compile(end, re.MULTILINE),
        )
        if len(_HEREDOC_CACHE) > 512:
            _HEREDOC_CACHE.clear()
        _HEREDOC_CACHE[label] = pats
    return pats


class _Lines:
    """Line numbers for offsets asked for in increasing order."""

    __slots__ = ("data", "pos", "line", "cr")

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.line = 1
        self.cr = b"\r" in data

    def at(self, pos):
        if pos < self.pos:
            self.pos, self.line = 0, 1
        if self.cr:
            # PHP counts "\r\n", "\n" and a lone "\r" as one line break each. The
            # offsets asked for are token starts, never between "\r" and "\n".
            chunk = self.data[self.pos:pos]
            self.line += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        else:
            self.line += self.data.count(b"\n", self.pos, pos)
        self.pos = pos
        return self.line


def _skip_trivia(low, pos, php8):
    """Skip whitespace and comments from pos; return the next significant offset."""
    n = len(low)
    line_comment = _LINE_COMMENT[php8]
    while True:
        pos = _WS.match(low, pos).end()
        if pos >= n:
            return pos
        c = low[pos]
        if c == _HASH or (c == _SLASH and low.startswith(b"//", pos)):
            m = line_comment.match(low, pos)
            if m is not None:
                pos = m.end()
                continue
        elif c == _SLASH and low.startswith(b"/*", pos):
            pos = _BLOCK_COMMENT.match(low, pos).end()
            continue
        return pos


def _next_token(low, pos, php8):
    """(token, start, end) of the next significant token from pos; token None at the end."""
    pos = _skip_trivia(low, pos, php8)
    m = _SIG_TOKEN.match(low, pos)
    if m is None:
        return None, pos, pos
    return m.group(), pos, m.end()


def _prev_token(low, pos, comment_ends):
    """(token, start) of the significant token that ends before pos.

    A word comes back whole (``b"function"``); ``b"$"`` or ``b"\\"`` when the word
    is a variable or a name segment; ``None`` at the start of the source.
    ``comment_ends`` maps the end offset of each comment met so far to its start.
    """
    i = pos
    while True:
        while i > 0 and low[i - 1] in _WS_BYTES:
            i -= 1
        start = comment_ends.get(i)
        if start is None:
            break
        i = start
    if i == 0:
        return None, 0
    two = low[i - 2:i]
    if two == b"::" or two == b"->":
        return two, i - 2
    if _IS_ID[low[i - 1]]:
        j = i - 1
        while j > 0 and _IS_ID[low[j - 1]]:
            j -= 1
        if j > 0 and low[j - 1] in b"$\\":
            return low[j - 1:j], j - 1
        return low[j:i], j
    return low[i - 1:i], i - 1


def _text(raw):
    return raw.decode("utf-8", "replace")


# Tokens before a keyword that make it a plain name: X::class, $o->class,
# function class(), const ENUM, new class, $class, Foo\Class.
_NOT_DECL_AFTER = frozenset((b"::", b"->", b"function", b"fn", b"const", b"new", b"$", b"\\"))
_NOT_KEYWORD_AFTER = frozenset((b"::", b"->", b"function", b"fn", b"const", b"$", b"\\"))
_MODIFIERS_B = frozenset(m.encode() for m in MODIFIERS)


def scan_declarations(source, short_open_tag=False, php8=True):
    """Find class, interface, trait and enum declarations in PHP source.

    ``source``: bytes as read from the file (str is encoded as UTF-8).
    ``short_open_tag``: treat ``<?`` as an open tag (php.ini ``short_open_tag``).
    ``php8``: ``#[`` starts an attribute (PHP >= 8.0); with False it starts a
    comment, as in PHP 7.

    Returns a ScanResult. A declaration is ``conditional`` when it is nested in a
    block (``if (!class_exists(...)) { class X {} }``, a function body, an
    ``if (...): ... endif;`` block): PHP declares it only when that code runs.
    """
    if isinstance(source, bytes):
        data = source
    else:
        data = source.encode("utf-8", "surrogateescape")
    low = data.lower()  # ASCII only, same length: offsets are shared
    n = len(data)
    lines = _Lines(data)
    decls = []
    open_tag = _OPEN_TAG_SHORT if short_open_tag else _OPEN_TAG
    # Alternative syntax blocks ("if (...): ... endif;") matter only in a source
    # that closes one; elsewhere control keywords and parentheses are not tracked.
    alt = _ALT_END.search(low) is not None

    depth = 0            # brace depth in code outside interpolations
    ns_depth = 0         # depth inside a "namespace X { }" block, 0 outside one
    namespace = ""
    interps = []         # open {$ / ${ interpolations: [body, kind, brace depth]
    alt_depth = 0        # open "if (...):" style blocks
    paren_depth = -1     # >= 0 while reading a control keyword's condition
    comment_ends = {}
    state = 0            # 0 inline HTML, 1 code, 2 string body
    body = None
    body_kind = None
    unterminated = None
    halted = False
    pos = 0
    count = low.count
    code_search = _code(php8, alt, False, False).search

    while pos < n:
        if state == 0:
            m = open_tag.search(low, pos)
            if m is None:
                break
            pos = m.end()
            state = 1
            continue

        if state == 2:
            m = body.search(data, pos)
            if m is None:
                unterminated = body_kind
                pos = n
                break
            tok = m.group()
            if tok == b"{$":
                interps.append([body, body_kind, 0])
                state = 1
                pos = m.start() + 1  # the "$" starts the expression
            elif tok == b"${":
                interps.append([body, body_kind, 0])
                state = 1
                pos = m.end()
            elif tok[0] == 0x5C and len(tok) == 2:  # backslash escape
                pos = m.end()
            else:  # closing quote, backtick or heredoc marker
                state = 1
                pos = m.end()
            continue

        # state == 1: code
        if paren_depth < 0 and not interps:
            m = code_search(low, pos)
        else:
            m = _code(php8, alt, paren_depth >= 0, bool(interps)).search(low, pos)
        if m is None:
            if not interps:
                depth += count(b"{", pos) - count(b"}", pos)
            break
        start = m.start()
        if not interps and start > pos:
            depth += count(b"{", pos, start) - count(b"}", pos, start)
        pos = m.end()
        c = low[start]

        if c == _DQ:
            if pos - start == 1:
                state, body, body_kind = 2, _DQ_BODY, "string"
            continue
        if c == _SQ:
            if pos == n and _SQ_CLOSED.match(low, start) is None:
                unterminated = "string"
            continue
        if c == _LB:  # only inside an interpolation
            interps[-1][2] += 1
            continue
        if c == _RB:
            top = interps[-1]
            if top[2]:
                top[2] -= 1
            else:
                interps.pop()
                body, body_kind = top[0], top[1]
                state = 2
            continue
        if c == _SLASH or c == _HASH:
            comment_ends[pos] = start
            if low.startswith(b"/*", start) and not low.endswith(b"*/", start + 2, pos):
                unterminated = "comment"
            continue
        if c == _LP:
            paren_depth += 1
            continue
        if c == _RP:
            paren_depth -= 1
            if paren_depth == 0:
                paren_depth = -1
                tok, _s, _e = _next_token(low, pos, php8)
                if tok == b":":
                    alt_depth += 1
            continue
        if c == _QM:
            state = 0
            continue
        if c == _BT:
            state, body, body_kind = 2, _BT_BODY, "backtick"
            continue
        if c == _LT:
            hm = _HEREDOC_START.match(data, start)
            if hm is None:
                continue
            pos = hm.end()
            if hm.group(2) is not None:
                end = _heredoc_patterns(hm.group(2))[1].search(data, pos)
                if end is None:
                    unterminated = "nowdoc"
                    break
                pos = end.end()
            else:
                label = hm.group(1) or hm.group(3)
                state, body, body_kind = 2, _heredoc_patterns(label)[0], "heredoc"
            continue

        # a keyword
        if start > 0:
            before = low[start - 1]
            if before == 0x24 or before == 0x5C or _IS_ID[before]:
                continue  # $class, Foo\Class, subclass
        if ns_depth and depth < ns_depth:
            namespace, ns_depth = "", 0  # the "namespace X { }" block has ended
        word = low[start:pos]
        prev, prev_start = _prev_token(low, start, comment_ends)

        if word in _KW_DECL:
            if prev in _NOT_DECL_AFTER:
                continue
            if prev == b"&":  # function &class()
                if _prev_token(low, prev_start, comment_ends)[0] in (b"function", b"fn"):
                    continue
            tok, tstart, tend = _next_token(low, pos, php8)
            if tok is None or _IDENT_FULL.match(tok) is None:
                continue  # new class {...}, class(...), named argument class: ...
            if tok in (b"extends", b"implements"):
                continue  # new class extends X
            if word == b"enum" and (tstart == pos or tok.startswith((b"extends", b"implements"))):
                # PHP lexes "enum" as a keyword only when whitespace or a comment
                # and then a name follow, and the name does not start with
                # "extends"/"implements"; otherwise it is an ordinary name.
                continue
            modifiers = []
            p, ps = prev, prev_start
            while p in _MODIFIERS_B:
                modifiers.insert(0, p.decode("ascii"))
                p, ps = _prev_token(low, ps, comment_ends)
            if p == b"new":
                continue  # new readonly class ...
            decls.append(Declaration(
                kind=word.decode("ascii"),
                name=_text(data[tstart:tend]),
                namespace=namespace,
                line=lines.at(start),
                conditional=bool(alt_depth or interps or depth > ns_depth),
                modifiers=modifiers,
            ))
            pos = tend
            continue

        if prev in _NOT_KEYWORD_AFTER:
            continue

        if word == b"namespace":
            tok, tstart, tend = _next_token(low, pos, php8)
            if tok == b"{":
                namespace = ""
                depth += 1
                ns_depth = depth
                pos = tend
            elif tok is not None and _IS_ID[tok[0]]:
                tok2, _s, tend2 = _next_token(low, tend, php8)
                if tok2 == b"{":
                    namespace = _text(data[tstart:tend])
                    depth += 1
                    ns_depth = depth
                    pos = tend2
                elif tok2 in (b";", b"?>"):
                    namespace = _text(data[tstart:tend])
                    pos = tend
            continue

        if word == b"__halt_compiler":
            halted = True
            break

        if word in _KW_OPEN:
            if paren_depth < 0:
                tok, tstart, tend = _next_token(low, pos, php8)
                if tok == b"(":
                    paren_depth = 1
                    pos = tend
            continue

        if word in _KW_CLOSE:
            if alt_depth > 0:
                alt_depth -= 1
            continue

    return ScanResult(decls, halted=halted, unterminated=unterminated)
