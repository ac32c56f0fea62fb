# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of blacklist entry checks, edits and PHP matching."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import blacklist as bf


@pytest.mark.parametrize("entry,fragment", [
    ("", "empty entry"),
    (" /srv/a.php", "does not trim"),
    ("/srv/a.php ", "does not trim"),
    (";/srv/a.php", "comment"),
    ("srv/a.php", "relative path"),
    ("*.php", "relative path"),
    ("/srv/a\n.php", "newline"),
    ('"/srv/a.php"', "double quotes"),
    ("/srv//a.php", "normal form"),
    ("/srv/./a.php", "normal form"),
    ("/srv/x/../a.php", "normal form"),
    ("/srv/app/", "ends with '/'"),
    ("/" + "a" * 5000, "longer than"),
])
def test_rejected_entries(entry, fragment):
    with pytest.raises(bf.BlacklistError) as info:
        bf.check_entry(entry)
    assert fragment in str(info.value)


def test_non_string_rejected():
    with pytest.raises(bf.BlacklistError):
        bf.check_entry(5)


@pytest.mark.parametrize("entry", ["/srv/app/releases/b/report.php", "/srv/*/cache/*", "/srv/**/x?.php", "/"])
def test_accepted_entries(entry):
    assert bf.check_entry(entry) == entry


def test_check_entries_dedupes_and_warns_on_prefix():
    entries, errors, warnings = bf.check_entries(["/srv/a.php", "/srv/a.php", "/srv/app", "x"])
    assert entries == ["/srv/a.php", "/srv/app"]
    assert len(errors) == 1
    assert any("twice" in w for w in warnings) and any("is a prefix" in w for w in warnings)


def test_read_entries_like_php():
    text = '; comment\n\n/srv/a.php\r\n"/srv/b.php"\n\r/srv/c.php\n /srv/d.php\n'
    assert bf.read_entries(text) == ["/srv/a.php", "/srv/b.php", "/srv/c.php", " /srv/d.php"]


def test_edit_present_appends_and_keeps_comments():
    text = "; managed\n/srv/a.php\n"
    result = bf.edit(text, ["/srv/a.php", "/srv/b.php"])
    assert result.changed and result.text == "; managed\n/srv/a.php\n/srv/b.php\n"
    assert result.added == ["/srv/b.php"] and result.removed == []
    again = bf.edit(result.text, ["/srv/a.php", "/srv/b.php"])
    assert not again.changed


def test_edit_no_final_newline():
    assert bf.edit("/srv/a.php", ["/srv/b.php"]).text == "/srv/a.php\n/srv/b.php\n"


def test_edit_exclusive():
    text = "; c\n/srv/a.php\n/srv/old.php\n"
    result = bf.edit(text, ["/srv/a.php"], exclusive=True)
    assert result.text == "; c\n/srv/a.php\n" and result.removed == ["/srv/old.php"]


def test_edit_absent():
    text = "/srv/a.php\n; /srv/a.php\n/srv/b.php\n"
    result = bf.edit(text, ["/srv/a.php"], state="absent")
    assert result.text == "; /srv/a.php\n/srv/b.php\n" and result.removed == ["/srv/a.php"]


def test_entry_matching_like_php():
    assert bf.entry_matches("/srv/app/b/report.php", "/srv/app/b/report.php")
    assert bf.entry_matches("/srv/app", "/srv/application.php")  # prefix
    assert bf.entry_matches("/srv/*/report.php", "/srv/b/report.php")
    assert not bf.entry_matches("/srv/*/report.php", "/srv/b/c/report.php")
    assert bf.entry_matches("/srv/**/report.php", "/srv/b/c/report.php")
    assert bf.entry_matches("/srv/?/r.php", "/srv/b/r.php")
    assert not bf.entry_matches("/srv/?/r.php", "/srv/bc/r.php")
    assert not bf.entry_matches("/srv/a.php", "/srv/aXphp")


def test_glob_matches():
    assert bf.glob_matches("/etc/php.d/opcache*.blacklist", "/etc/php.d/opcache-fleet.blacklist")
    assert not bf.glob_matches("/etc/php.d/opcache*.blacklist", "/etc/php.d/x/opcache.blacklist")
    assert not bf.glob_matches("/etc/php.d/*.blacklist", "/etc/php.d/.hidden.blacklist")
    assert bf.glob_matches("/etc/php.d/opcache-default.blacklist", "/etc/php.d/opcache-default.blacklist")
    assert not bf.glob_matches("", "/x")


def test_path_for_glob():
    assert bf.path_for_glob("/etc/php.d/opcache*.blacklist") == "/etc/php.d/opcache-fleet.blacklist"
    assert bf.path_for_glob("/etc/bl/*.blacklist") == "/etc/bl/opcache-fleet.blacklist"
    assert bf.path_for_glob("/etc/php.d/opcache-default.blacklist") == "/etc/php.d/opcache-default.blacklist"
    assert bf.path_for_glob("/etc/*/x.blacklist") is None
    assert bf.path_for_glob("/etc/[ab].blacklist") is None
    assert bf.path_for_glob("relative*.txt") is None
