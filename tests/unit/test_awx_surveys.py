# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX survey specs of docs/awx/ against the playbooks they launch.

``docs/awx/<playbook>.survey.json`` is the survey of the job template that runs
``playbooks/<playbook>.yml``. Each survey variable must be one the playbook reads (in a Jinja
expression, ``vars['...']`` included) and does not define itself; each multiple choice must
offer exactly the values the playbook accepts where it says which: an ``assert`` of
``<var> in [...]``, the ``choices`` of the collection module option the variable is passed to,
or a ``| bool`` filter; each integer must reach an ``| int`` filter or an int/float module
option. So renaming a playbook variable, or changing the values it accepts, fails here.
"""
import ast
import json
import os
import re

import pytest
import yaml
from unit_paths import PROJECT_ROOT

SURVEY_DIR = os.path.join(PROJECT_ROOT, "docs", "awx")
SURVEY_SUFFIX = ".survey.json"
SURVEYS = sorted(f for f in os.listdir(SURVEY_DIR) if f.endswith(SURVEY_SUFFIX))
# The job templates of docs/awx.md.
TEMPLATED_PLAYBOOKS = ["culprit_hunt", "cure", "diagnose", "emergency_reset"]
QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
BOOLEAN_CHOICES = ["false", "true"]
COLLECTION_PREFIX = "phpfpm.opcache_fleet."

JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
VARS_LOOKUP = re.compile(r"\bvars\[\s*['\"](\w+)['\"]\s*\]")
STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
FILTER = re.compile(r"\|\s*[A-Za-z_][\w.]*")
TEST = re.compile(r"\bis\s+(?:not\s+)?[A-Za-z_]\w*")
NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
# Keys whose strings are bare Jinja expressions (conditionals).
CONDITION_KEYS = {"when", "that", "failed_when", "changed_when"}


def names(expression):
    """Variables an expression reads: identifiers outside strings, filter and test names, and
    attribute accesses, plus vars['...'] lookups."""
    looked_up = VARS_LOOKUP.findall(expression)
    bare = TEST.sub(" ", FILTER.sub("|", STRING.sub("''", expression)))
    return looked_up + NAME.findall(bare)


def first_name(expression):
    found = names(expression)
    return found[0] if found else None


def only_expression(text):
    """The expression of a string that is exactly one {{ ... }}, else None."""
    match = re.fullmatch(r"\s*\{\{(.*)\}\}\s*", text, re.S)
    return match.group(1) if match and "{{" not in match.group(1) else None


def module_options(module):
    """The options of a collection module, from its DOCUMENTATION."""
    path = os.path.join(PROJECT_ROOT, "plugins", "modules", module + ".py")
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["DOCUMENTATION"]:
            return yaml.safe_load(node.value.value)["options"]
    raise AssertionError("%s has no DOCUMENTATION" % path)


class Playbook:
    """What a playbook reads, defines, asserts and passes to the collection's modules."""

    def __init__(self, text):
        self.expressions = []     # every Jinja expression and conditional
        self.defined = set()      # play vars, registered results, set_fact names, loop vars
        self.aliases = {}         # play var -> the variable its template reads first
        self.conditions = []      # the `that` of every assert
        self.module_args = []     # (module, option, value) for the collection's modules
        self._walk(yaml.safe_load(text))
        self.read = {n for e in self.expressions for n in names(e)}

    def _strings(self, value, conditional):
        if isinstance(value, str):
            self.expressions.extend(m.group(1) or m.group(2) for m in JINJA.finditer(value))
            if conditional:
                self.expressions.append(value)
        elif isinstance(value, list):
            for item in value:
                self._strings(item, conditional)

    def _walk(self, node):
        if isinstance(node, list):
            for item in node:
                self._walk(item)
            return
        if not isinstance(node, dict):
            self._strings(node, False)
            return
        for key, value in node.items():
            if key == "vars" and isinstance(value, dict):
                for var, template in value.items():
                    self.defined.add(var)
                    expression = only_expression(template) if isinstance(template, str) else None
                    if expression is not None:
                        self.aliases[var] = first_name(expression)
            elif key == "register":
                self.defined.add(value)
            elif key in ("ansible.builtin.set_fact", "set_fact"):
                self.defined.update(value)
            elif key == "loop_control":
                self.defined.add(value.get("loop_var", "item"))
            elif key in ("ansible.builtin.assert", "assert"):
                that = value["that"]
                self.conditions.extend([that] if isinstance(that, str) else that)
            elif key.startswith(COLLECTION_PREFIX) and isinstance(value, dict):
                for option, arg in value.items():
                    self.module_args.append((key[len(COLLECTION_PREFIX):], option, arg))
            if key in CONDITION_KEYS:
                self._strings(value, True)
            else:
                self._walk(value)

    def spellings(self, variable):
        """The variable and the play vars that are its template (mode -> emergency_reset_mode)."""
        found = {variable}
        while True:
            more = {alias for alias, source in self.aliases.items() if source in found} - found
            if not more:
                return found
            found |= more

    def _passed_to_modules(self, variable):
        spellings = self.spellings(variable)
        for module, option, arg in self.module_args:
            expression = only_expression(arg) if isinstance(arg, str) else None
            if expression is not None and first_name(expression) in spellings:
                yield module, option, module_options(module).get(option, {})

    def _filtered(self, variable, name):
        pattern = re.compile(r"^\s*\(?\s*(%s)\b[^}]*\|\s*%s\b" % ("|".join(map(re.escape, self.spellings(variable))), name))
        return any(pattern.search(e) for e in self.expressions)

    def accepted_values(self, variable):
        """{where: values} for each place the playbook says which values the variable takes."""
        spellings, accepted = self.spellings(variable), {}
        for condition in self.conditions:
            match = re.fullmatch(r"\s*(\w+)\s+in\s+(\[.*\])\s*", condition, re.S)
            if match and match.group(1) in spellings:
                accepted["assert %s" % condition.strip()] = ast.literal_eval(match.group(2))
        for module, option, doc in self._passed_to_modules(variable):
            if doc.get("choices"):
                accepted["%s option %s" % (module, option)] = doc["choices"]
            elif doc.get("type") == "bool":
                accepted["%s option %s (bool)" % (module, option)] = BOOLEAN_CHOICES
        if self._filtered(variable, "bool"):
            accepted["| bool"] = BOOLEAN_CHOICES
        return accepted

    def takes_integers(self, variable):
        return self._filtered(variable, "int") or any(
            doc.get("type") in ("int", "float") for _m, _o, doc in self._passed_to_modules(variable))


def load_survey(name):
    with open(os.path.join(SURVEY_DIR, name)) as f:
        return json.load(f)


def playbook_text(survey_name):
    with open(os.path.join(PROJECT_ROOT, "playbooks", survey_name[:-len(SURVEY_SUFFIX)] + ".yml")) as f:
        return f.read()


def problems(survey, text):
    """Every way the survey and the playbook text disagree; empty when they agree."""
    book, found = Playbook(text), []
    for question in survey["spec"]:
        variable = question["variable"]
        if variable not in book.read:
            found.append("%s: the playbook does not read it" % variable)
        if variable in book.defined:
            found.append("%s: the playbook defines it itself" % variable)
        if question["type"] == "multiplechoice":
            accepted = book.accepted_values(variable)
            if not accepted:
                found.append("%s: the playbook does not say which values it accepts" % variable)
            for where, values in sorted(accepted.items()):
                if sorted(question["choices"]) != sorted(values):
                    found.append("%s: choices %s, %s accepts %s" % (variable, question["choices"], where, values))
        if question["type"] == "integer" and not book.takes_integers(variable):
            found.append("%s: an integer question, but the playbook takes no integer from it" % variable)
    return found


def test_each_job_template_has_a_survey_and_each_survey_a_playbook():
    assert [s[:-len(SURVEY_SUFFIX)] for s in SURVEYS] == TEMPLATED_PLAYBOOKS
    with open(os.path.join(PROJECT_ROOT, "docs", "awx.md")) as f:
        doc = f.read()
    for survey in SURVEYS:
        assert "docs/awx/" + survey in doc


@pytest.mark.parametrize("survey_name", SURVEYS)
def test_survey_spec_is_well_formed(survey_name):
    survey = load_survey(survey_name)
    assert survey["name"] and survey["description"] and survey["spec"]
    variables = [q["variable"] for q in survey["spec"]]
    assert len(variables) == len(set(variables))
    for question in survey["spec"]:
        where = "%s %s" % (survey_name, question.get("variable"))
        assert {"question_name", "question_description", "variable", "type", "required"} <= set(question), where
        assert question["type"] in QUESTION_TYPES, where
        assert isinstance(question["required"], bool), where
        if "default" not in question:
            assert question["required"], "%s: an optional question needs a default" % where
            continue
        default = question["default"]
        if question["type"] == "multiplechoice":
            assert isinstance(question["choices"], list) and default in question["choices"], where
        elif question["type"] == "multiselect":
            # AWX's multiselect default: the chosen lines, one per line
            assert isinstance(default, str) and set(default.split("\n")) <= set(question["choices"]), where
        elif question["type"] == "integer":
            assert isinstance(default, int) and question["min"] <= default <= question["max"], where
        else:
            assert isinstance(default, str) and question["min"] <= len(default) <= question["max"], where


@pytest.mark.parametrize("survey_name", SURVEYS)
def test_survey_matches_its_playbook(survey_name):
    assert problems(load_survey(survey_name), playbook_text(survey_name)) == []


def test_a_renamed_playbook_variable_fails_the_check():
    survey, text = load_survey("emergency_reset.survey.json"), playbook_text("emergency_reset.survey.json")
    renamed = text.replace("mode | default('stale')", "reset_mode | default('stale')")
    assert renamed != text
    assert "mode: the playbook does not read it" in problems(survey, renamed)


def test_a_changed_set_of_accepted_values_fails_the_check():
    survey, text = load_survey("emergency_reset.survey.json"), playbook_text("emergency_reset.survey.json")
    narrowed = text.replace("emergency_reset_mode in ['full', 'files', 'glob', 'stale']",
                            "emergency_reset_mode in ['full', 'stale']")
    assert narrowed != text
    assert [p for p in problems(survey, narrowed) if p.startswith("mode: choices") and "assert" in p]


def test_the_checker_sees_each_way_a_playbook_names_its_choices():
    book = Playbook(playbook_text("emergency_reset.survey.json"))
    assert book.spellings("mode") == {"mode", "emergency_reset_mode"}
    assert sorted(book.accepted_values("mode")) == ["assert emergency_reset_mode in ['full', 'files', 'glob', 'stale']",
                                                    "opcache_reset option mode"]
    assert book.accepted_values("fallback") == {"opcache_reset option fallback": ["none", "reload"]}
    assert sorted(book.accepted_values("purge_file_cache")) == ["opcache_reset option purge_file_cache (bool)",
                                                                "| bool"]
    assert "until" in Playbook(playbook_text("diagnose.survey.json")).read   # vars['until']
