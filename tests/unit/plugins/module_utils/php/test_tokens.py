# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""php.tokens: each case is one that a grep for 'class \\w+' gets wrong."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.tokens import scan_declarations


def names(src, **kwargs):
    return [d.fqn for d in scan_declarations(src, **kwargs).declarations]


def decls(src, **kwargs):
    return [(d.kind, d.fqn, d.line, d.conditional)
            for d in scan_declarations(src, **kwargs).declarations]


# -- open and close tags, inline HTML -------------------------------------------------

def test_inline_html_is_not_code():
    src = ('<p>class Html {}</p>\n<?php class Real {} ?>\n'
           '<pre>interface AfterClose {}</pre>\n')
    assert names(src) == ["Real"]


def test_no_open_tag_means_no_code():
    assert names("class NotPhp {}\n") == []


def test_echo_tag_opens_code():
    assert names("<?= 1 ?> <?= 2; class Echoed {} ?>") == ["Echoed"]


def test_open_tag_is_case_insensitive_and_may_end_the_file():
    assert names("<?PHP\nclass Upper {}") == ["Upper"]
    assert names("<?php") == []


def test_open_tag_needs_whitespace_after_php():
    # "<?phpclass" is not an open tag (short tags off): all of it is HTML.
    assert names("<?phpclass Glued {}") == []


def test_short_open_tag_only_when_enabled():
    src = "<? class Short {} ?>"
    assert names(src) == []
    assert names(src, short_open_tag=True) == ["Short"]


def test_xml_declaration_is_html_without_short_tags():
    src = '<?xml version="1.0"?>\n<?php class AfterXml {}'
    assert names(src) == ["AfterXml"]


def test_close_tag_inside_strings_and_block_comments_does_not_close():
    src = "<?php $a = '?>'; $b = \"?>\"; /* ?> */ class StillCode {}"
    assert names(src) == ["StillCode"]


# -- strings --------------------------------------------------------------------------

def test_single_quoted_with_escaped_quote():
    src = r"<?php $s = 'it\'s class Nope {} \\'; class Yes {}"
    assert names(src) == ["Yes"]


def test_double_quoted_with_escapes():
    src = r'<?php $s = "say \"class Nope {}\" \\"; class Yes {}'
    assert names(src) == ["Yes"]


def test_interpolation_with_nested_string_containing_quote_and_brace():
    # {$a["}"]} : the inner "}" is a string in code, not the end of the interpolation
    src = '<?php $s = "x {$a["}"]} class Nope {"; class Yes {}'
    assert names(src) == ["Yes"]


def test_dollar_brace_interpolation():
    src = '<?php $s = "${"class"} class Nope {} ${x}"; class Yes {}'
    assert names(src) == ["Yes"]


def test_string_resumes_after_interpolation():
    src = '<?php $s = "{$a->b} class Nope {} {$c}"; interface Yes {}'
    assert names(src) == ["Yes"]


def test_backticks():
    src = "<?php $o = `echo class Nope {} {$x}`; trait Yes {}"
    assert names(src) == ["Yes"]


def test_unterminated_string_is_reported():
    res = scan_declarations("<?php class A {} $s = 'open")
    assert [d.name for d in res.declarations] == ["A"]
    assert res.unterminated == "string"


# -- heredoc / nowdoc -----------------------------------------------------------------

def test_heredoc_body_is_not_code():
    src = "<?php\n$h = <<<EOT\nclass Nope {\n}\nEOT;\nclass Yes {}\n"
    assert decls(src) == [("class", "Yes", 6, False)]


def test_heredoc_flexible_closing_marker_php73():
    # indented marker followed by ")" closes the heredoc (PHP >= 7.3)
    src = ("<?php\nfoo(<<<EOT\n    class Nope {}\n    EOT, 1);\nclass Yes {}\n")
    assert names(src) == ["Yes"]


def test_heredoc_label_inside_a_line_or_word_does_not_close():
    src = ("<?php\n$h = <<<EOT\nnot EOT here\nEOTX class Nope {}\nclass Nope2 {}\n"
           "EOT;\nclass Yes {}\n")
    assert names(src) == ["Yes"]


def test_quoted_heredoc_and_interpolation_with_label_text():
    src = ('<?php\n$h = <<<"EOT"\n{$a["EOT"]} class Nope {}\nEOT;\n'
           'abstract class Yes {}\n')
    assert names(src) == ["Yes"]


def test_nowdoc_has_no_interpolation_or_escapes():
    src = "<?php\n$n = <<<'EOT'\n{$a} \\' class Nope {}\n  EOT;\nclass Yes {}\n"
    assert names(src) == ["Yes"]


def test_heredoc_labels_are_case_sensitive():
    src = "<?php\n$h = <<<EOT\neot;\nclass Nope {}\nEOT;\nclass Yes {}\n"
    assert names(src) == ["Yes"]


def test_empty_heredoc():
    assert names("<?php\n$h = <<<EOT\nEOT;\nclass Yes {}\n") == ["Yes"]


# -- comments and attributes ----------------------------------------------------------

def test_block_and_doc_comments():
    src = "<?php /* class A {} */ /** @see class B {} */ class Yes {}"
    assert names(src) == ["Yes"]


def test_line_comments():
    src = "<?php\n// class A {}\n# interface B {}\nclass Yes {}\n"
    assert names(src) == ["Yes"]


def test_line_comment_ends_at_close_tag():
    # after "?>" the rest of the line is HTML, then code resumes at "<?php"
    src = "<?php // note ?> class Html {} <?php class Yes {}"
    assert names(src) == ["Yes"]


def test_hash_comment_ends_at_close_tag():
    src = "<?php # note ?> trait Html {}"
    assert names(src) == []


def test_php8_attribute_is_code_not_comment():
    src = '<?php\n#[Attr("class Nope {")] final class Yes {}\n'
    assert names(src) == ["Yes"]
    # PHP 7: "#[" starts a comment that runs to the end of the line
    assert names(src, php8=False) == []


def test_attributes_before_anonymous_class():
    assert names("<?php $o = new #[A] class {}; $p = new #[A]\nclass {};") == []


def test_unterminated_block_comment():
    res = scan_declarations("<?php /* class Nope {}")
    assert res.declarations == [] and res.unterminated == "comment"


# -- what is not a declaration --------------------------------------------------------

@pytest.mark.parametrize("code", [
    "$n = Foo::class;",
    "$n = static::class;",
    "$n = $obj::class;",
    "$n = Foo:: /* c */ class;",
    "$x = $obj->class;",
    "$x = $obj?->class;",
    "$class = 'x'; $interface = 1; $trait = 2; $enum = 3;",
    "use Foo\\Class_\\Bar; $x = new Foo\\Enum\\Bar();",
    "$o = new class {};",
    "$o = new class(1, 2) extends Base implements I {};",
    "$o = new readonly class {};",
    "$o = new /* c */ class {};",
    "$o = new // c\n class {};",
    "$o = new class extends Base {};",
    "foo(class: 1, enum: 2);",
    "$x = subclass_of(1); $y = is_interface(); my_trait();",
    "$x = enum(1); $y = Foo::ENUM; $z = Foo::enum();",
])
def test_not_declarations(code):
    assert names("<?php " + code + "\nclass Marker {}") == ["Marker"]


def test_method_names_that_are_keywords():
    src = ("<?php class Q {\n public function class() {}\n public static function interface() {}\n"
           " function &trait() {}\n function enum(): int {}\n const ENUM = 1;\n}\n")
    assert names(src) == ["Q"]


def test_enum_as_class_name():
    assert decls("<?php class Enum {}") == [("class", "Enum", 1, False)]


def test_enum_declarations():
    src = ("<?php\nenum Suit: string { case H = 'h'; }\nenum Plain {}\n"
           "enum /* c */ WithComment implements I {}\n")
    assert [(d.kind, d.name) for d in scan_declarations(src).declarations] == [
        ("enum", "Suit"), ("enum", "Plain"), ("enum", "WithComment")]


def test_enum_needs_a_name_after_whitespace():
    # "enum extends" / "enum implements" lex as a name, like PHP does
    assert names("<?php enum extends X {} enum(1); class Marker {}") == ["Marker"]


# -- what is a declaration ------------------------------------------------------------

def test_modifiers():
    src = ("<?php\nabstract class A {}\nfinal class B {}\nreadonly class C {}\n"
           "final readonly class D {}\n#[X]\nabstract /* c */ class E {}\n")
    res = scan_declarations(src).declarations
    assert [(d.name, d.modifiers) for d in res] == [
        ("A", ("abstract",)), ("B", ("final",)), ("C", ("readonly",)),
        ("D", ("final", "readonly")), ("E", ("abstract",))]


def test_keywords_are_case_insensitive():
    assert decls("<?php\nNamespace App;\nCLASS Foo {}\nInterFace Bar {}\n") == [
        ("class", "App\\Foo", 3, False), ("interface", "App\\Bar", 4, False)]


def test_unicode_lookalike_is_not_a_keyword():
    # "claſſ" (long s) folds to "class" under Unicode rules; PHP folds ASCII only
    assert names(u"<?php claſſ Nope {} class Yes {}") == ["Yes"]


def test_kinds():
    src = "<?php interface I {} trait T {} class C {} enum E {}"
    assert [d.kind for d in scan_declarations(src).declarations] == [
        "interface", "trait", "class", "enum"]


# -- namespaces -----------------------------------------------------------------------

def test_statement_namespaces_switch():
    src = "<?php\nnamespace A\\B;\nclass X {}\nnamespace C;\nclass X {}\n"
    assert names(src) == ["A\\B\\X", "C\\X"]


def test_braced_and_global_namespace_blocks():
    src = ("<?php\nnamespace A { class X { function f() { if (1) {} } } }\n"
           "namespace { class G {} }\nnamespace B { interface Y {} }\n")
    assert decls(src) == [
        ("class", "A\\X", 2, False), ("class", "G", 3, False), ("interface", "B\\Y", 4, False)]


def test_namespace_operator_and_property_are_not_declarations():
    src = "<?php\nnamespace App;\n$x = namespace\\helper(); $y = $o->namespace;\nclass X {}\n"
    assert names(src) == ["App\\X"]


def test_namespace_in_comment_or_string_does_not_count():
    src = "<?php\n// namespace Wrong;\n$s = 'namespace Wrong2;';\nnamespace Right;\nclass X {}\n"
    assert names(src) == ["Right\\X"]


# -- conditional declarations ---------------------------------------------------------

def test_conditional_in_braces():
    src = ("<?php\nif (!class_exists('X')) {\n    class X {}\n}\nclass Top {}\n"
           "function f() { class InFunc {} }\n")
    assert decls(src) == [
        ("class", "X", 3, True), ("class", "Top", 5, False), ("class", "InFunc", 6, True)]


def test_conditional_alternative_syntax():
    src = ("<?php\nif (!interface_exists('I') && f(')')):\n    interface I {}\nelse:\n"
           "    interface I2 {}\nendif;\nclass Top {}\n")
    assert decls(src) == [
        ("interface", "I", 3, True), ("interface", "I2", 5, True), ("class", "Top", 7, False)]


def test_alternative_syntax_across_html():
    src = "<?php if ($x): ?>\n<b>html</b>\n<?php class InIf {} endif; class Top {}"
    assert decls(src) == [("class", "InIf", 3, True), ("class", "Top", 3, False)]


def test_ternary_after_condition_like_parens_is_not_alternative_syntax():
    src = "<?php\n$a = $o->if($x) ? 1 : 2; while ($x) { }\nclass Top {}\n// endif\n"
    assert decls(src) == [("class", "Top", 3, False)]


def test_braced_namespace_is_not_conditional():
    assert decls("<?php namespace N { class X {} }") == [("class", "N\\X", 1, False)]


# -- __halt_compiler ------------------------------------------------------------------

def test_halt_compiler_stops_scanning():
    res = scan_declarations("<?php class A {}\n__HALT_COMPILER(); class B {} \x00\xff")
    assert [d.name for d in res.declarations] == ["A"] and res.halted


def test_halt_compiler_in_string_does_not_stop():
    assert names("<?php $s = '__halt_compiler();'; class B {}") == ["B"]


# -- bytes, lines, names --------------------------------------------------------------

def test_line_numbers_with_crlf_and_cr():
    assert decls(b"<?php\r\n\r\nclass A {}\r\nclass B {}") == [
        ("class", "A", 3, False), ("class", "B", 4, False)]
    assert decls(b"<?php\r\rclass C {}") == [("class", "C", 3, False)]


def test_line_numbers_count_newlines_in_strings_and_comments():
    src = "<?php\n$a = 'x\ny';\n/*\n\n*/\n$h = <<<E\n1\n2\nE;\nclass L {}\n"
    assert decls(src) == [("class", "L", 11, False)]


def test_non_ascii_and_invalid_utf8_names():
    res = scan_declarations(u"<?php namespace Ü; class Straße {} class straße {}".encode("utf-8"))
    assert [d.fqn for d in res.declarations] == [u"Ü\\Straße", u"Ü\\straße"]
    res = scan_declarations(b"<?php class Caf\xe9 {}")
    assert res.declarations[0].name == u"Caf\ufffd"


def test_str_and_bytes_give_the_same_result():
    src = u"<?php namespace N; final class X {}"
    assert scan_declarations(src).declarations == scan_declarations(src.encode()).declarations
