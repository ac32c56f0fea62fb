# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache/helper_php.py: the PHP text is one constant (pinned hash) with no template slot."""
import hashlib

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper_php as h

# Changing the PHP text must be a deliberate act: update this pin in the same commit.
PINNED_SHA256 = "db325b2aa229322cce5377d270a96431e1da61229a543d43bfb777ca7247de60"


def test_helper_text_is_pinned():
    assert h.HELPER_SHA256 == hashlib.sha256(h.HELPER_PHP.encode("ascii")).hexdigest()
    assert h.HELPER_SHA256 == PINNED_SHA256


def test_helper_text_has_no_placeholders():
    # nothing in the text looks like a template slot
    for marker in ("%s", "%(", "{0}", "{}", "{{", "$ARG", "__ARG"):
        assert marker not in h.HELPER_PHP.replace("array()", "")
    assert "php://input" in h.HELPER_PHP and "eval(" not in h.HELPER_PHP
    assert "include" not in h.HELPER_PHP and "require" not in h.HELPER_PHP
