# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of pure php.ini edits."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import ini_file as pif
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.directives import normalize_existing

DEBIAN_OPCACHE = """; configuration for php opcache module
; priority=10
zend_extension=opcache.so
"""

PHP_INI = """[PHP]
engine = On

[opcache]
; Determines if Zend OPCache is enabled
;opcache.enable=1

; The OPcache shared memory storage size.
;opcache.memory_consumption=128

[Session]
session.save_handler = files
"""


def equal(name, current, wanted):
    return normalize_existing(name, current, "8.2") == wanted


def test_add_to_empty_file():
    result = pif.set_directives("", {"opcache.memory_consumption": "256"})
    assert result.changed and result.text == "opcache.memory_consumption=256\n"


def test_add_appends_keeping_comments():
    result = pif.set_directives(DEBIAN_OPCACHE, {"opcache.enable": "1"})
    assert result.text == DEBIAN_OPCACHE + "opcache.enable=1\n"


def test_file_without_final_newline():
    result = pif.set_directives("zend_extension=opcache.so", {"opcache.enable": "1"})
    assert result.text == "zend_extension=opcache.so\nopcache.enable=1\n"


def test_insert_after_commented_occurrence():
    result = pif.set_directives(PHP_INI, {"opcache.memory_consumption": "256"})
    assert ";opcache.memory_consumption=128\nopcache.memory_consumption=256\n\n[Session]" in result.text
    assert result.text.count("\n") == PHP_INI.count("\n") + 1


def test_new_directive_goes_to_end_of_opcache_section():
    result = pif.set_directives(PHP_INI, {"opcache.max_accelerated_files": "20000"})
    assert "opcache.memory_consumption=128\nopcache.max_accelerated_files=20000\n\n[Session]" in result.text


def test_update_keeps_spacing_and_comment():
    text = "opcache.memory_consumption = 128   ; tuned 2023\n"
    result = pif.set_directives(text, {"opcache.memory_consumption": "256"})
    assert result.text == "opcache.memory_consumption = 256   ; tuned 2023\n"
    assert result.actions[0] == {"name": "opcache.memory_consumption", "action": "updated",
                                 "line": 1, "before": "128", "after": "256"}


def test_equal_values_are_left_alone():
    text = "opcache.enable=On\nopcache.jit_buffer_size=67108864\n"
    result = pif.set_directives(text, {"opcache.enable": "1", "opcache.jit_buffer_size": "64M"}, equal=equal)
    assert not result.changed and result.text == text
    assert [a["action"] for a in result.actions] == ["unchanged", "unchanged"]


def test_duplicates_update_last_and_warn():
    text = "opcache.enable=1\n; x\nopcache.enable=0\n"
    result = pif.set_directives(text, {"opcache.enable": "1"}, equal=equal)
    assert result.text == "opcache.enable=1\n; x\nopcache.enable=1\n"
    assert "set 2 times" in result.warnings[0] and "line 3" in result.warnings[0]


def test_scoped_sections_not_edited():
    text = "opcache.enable=1\n[PATH=/srv/app]\nopcache.enable=0\n"
    result = pif.set_directives(text, {"opcache.enable": "0", "opcache.revalidate_freq": "0"})
    assert result.text == "opcache.enable=0\nopcache.revalidate_freq=0\n[PATH=/srv/app]\nopcache.enable=0\n"
    assert "[PATH=/srv/app]" in result.warnings[0]


def test_crlf_kept():
    text = "a=1\r\nopcache.enable=0\r\n"
    result = pif.set_directives(text, {"opcache.enable": "1", "opcache.use_cwd": "1"})
    assert result.text == "a=1\r\nopcache.enable=1\r\nopcache.use_cwd=1\r\n"


def test_quoting():
    assert pif.render_value("/etc/php.d/opcache*.blacklist") == '"/etc/php.d/opcache*.blacklist"'
    assert pif.render_value("/var/cache/opcache") == "/var/cache/opcache"
    assert pif.render_value("") == '""'
    assert pif.render_value("none") == '"none"'
    result = pif.set_directives("", {"opcache.error_log": ""})
    assert result.text == 'opcache.error_log=""\n'


def test_split_value():
    assert pif.split_value('"/a b" ; c\n') == ("/a b", '"/a b"', " ; c\n")
    assert pif.split_value("'x'") == ("x", "'x'", "")
    assert pif.split_value("128 ;comment") == ("128", "128", " ;comment")


def test_settings_reads_quoted_values():
    found = pif.settings('opcache.blacklist_filename="/etc/php.d/opcache*.blacklist"\n',
                         "opcache.blacklist_filename", path="/x.ini")
    assert found[0].value == "/etc/php.d/opcache*.blacklist" and found[0].line == 1


def test_remove_all_occurrences_keep_comments():
    text = ";opcache.fast_shutdown=1\nopcache.fast_shutdown=1\nx=1\nopcache.fast_shutdown = 0\n"
    result = pif.remove_directives(text, ["opcache.fast_shutdown"])
    assert result.changed and result.text == ";opcache.fast_shutdown=1\nx=1\n"
    assert [a["line"] for a in result.actions] == [2, 4]


def test_remove_absent_is_no_change():
    result = pif.remove_directives("x=1\n", ["opcache.enable"])
    assert not result.changed and result.actions[0]["action"] == "absent"


def test_remove_scoped_warns():
    result = pif.remove_directives("[HOST=a]\nopcache.enable=0\n", ["opcache.enable"])
    assert not result.changed and "not removed" in result.warnings[0]


# --- issue 11, finding 9: what PHP reads from a double-quoted value -----------------------

@pytest.mark.parametrize("value", ["/var/log/php\\", "a\\\\b", "a\\\"b", "a\nb", "a\rb", "a\x00b",
                                   "${HOME}/x", "a\\$b"])
def test_render_value_refuses_what_php_would_misread(value):
    with pytest.raises(ValueError) as info:
        pif.render_value(value)
    assert repr(value) in str(info.value)


def test_set_directives_refuses_trailing_backslash_before_a_next_line():
    # written as opcache.error_log="/var/log/php\" the quote would be escaped and, with a
    # comment after it, PHP would read on into the next line
    with pytest.raises(ValueError):
        pif.set_directives("opcache.error_log=/x ; log\nopcache.enable=1\n",
                           {"opcache.error_log": "/var/log/php\\"})


@pytest.mark.parametrize("rest,value", [
    ('"C:\\php\\x.log"\n', "C:\\php\\x.log"),   # \p and \x stay
    ('"a\\\\b"\n', "a\\b"),                      # \\ is one backslash
    ('"a\\"b"\n', 'a"b'),                        # \" is a quote
    ('"a\\$b"\n', "a$b"),                        # \$ is a dollar
    ('"C:\\php\\"\n', "C:\\php\\"),              # PHP's Windows-path rule: \" then end of line
])
def test_split_value_reads_double_quotes_as_php(rest, value):
    assert pif.split_value(rest)[0] == value


def test_render_then_read_round_trip():
    for value in ("/etc/php.d/opcache*.blacklist", "C:\\php\\x.log", "/a b/c", "none", ""):
        assert pif.split_value(pif.render_value(value) + "\n")[0] == value
