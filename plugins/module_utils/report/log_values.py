# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values read from logs, made fit for the commands of next steps.

Private to opcache-fleet. Standard library only. A request path and a Host header in an
nginx error log are whatever a web client sent. Shell quoting and one JSON ``-e`` keep them
from being split into words or variables, but Ansible still evaluates ``{{ }}``, ``{% %}``
and ``{# #}`` in extra vars given on the command line: a path holding ``{{ lookup('pipe',
...) }}`` would run on the controller of whoever pastes the command. So:

* a path is percent-encoded outside the characters RFC 3986 allows in a path and query
  (``{`` and ``}`` are not among them, nor spaces, quotes, controls or non-ASCII): nginx
  decodes it back to the same file, and no template delimiter is left;
* a Host header is kept only when it is a host name or IP literal with an optional port;
  anything else is dropped (the command then asks the host's own 127.0.0.1);
* any other value that reaches a command is checked by :func:`template_free`.
"""
from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote  # type: ignore

# RFC 3986 pchar plus "/" and "?" (path and query); "%" stays so that encoded text is not
# encoded twice. Everything else, "{" and "}" included, becomes %XX.
_PATH_SAFE = "/?:@!$&'()*+,;=-._~%"
_HOST_NAME = re.compile(r"^(?=.{1,253}(?::|$))[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?(?::[0-9]{1,5})?$")
_IP_LITERAL = re.compile(r"^\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?$")
_TEMPLATE = re.compile(r"\{\{|\{%|\{#|%\}|#\}|\}\}")


def safe_path(path):
    """``path`` (from a log) as a URL path that names the same file, or None when it is not an
    absolute path at all."""
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return quote(path, safe=_PATH_SAFE)


def safe_host_header(value):
    """``value`` when it is a plain host name or IP literal (with an optional port up to
    65535), lower-cased; else None."""
    if not isinstance(value, str) or not (_HOST_NAME.match(value) or _IP_LITERAL.match(value)):
        return None
    port = value.rsplit(":", 1)[1] if value.count(":") == 1 or value.startswith("[") and "]:" in value else None
    if port is not None and not 0 < int(port) <= 65535:
        return None
    return value.lower()


def template_free(value):
    """True when no string inside ``value`` (nested lists and dicts too) holds a Jinja
    delimiter."""
    if isinstance(value, str):
        return not _TEMPLATE.search(value)
    if isinstance(value, dict):
        return all(template_free(k) and template_free(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(template_free(v) for v in value)
    return True
