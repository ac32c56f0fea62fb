# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_DEPRECATION_WARNINGS := False
VENV := .venv/bin
HOST ?= lab-web1

.PHONY: setup image lab lab-down lab-scale incident demo eda-demo diagnose test lint unit browser mutants collection sanity molecule bench bench-cure help

help:
	@echo "make demo      set up, start the lab, arm the incident, run diagnose.yml"
	@echo "make test      lint, unit tests, headless-browser test, mutation run, collection install test, ansible-test sanity, every Molecule scenario"
	@echo "make eda-demo  the crash_storm rulebook sees the incident's crash storm and runs diagnose [HOST=lab-web1]"
	@echo "make lab | lab-down | lab-scale [N=24] | incident [HOST=lab-web1] | bench | bench-cure [HOST=lab-web1]"

setup:
	@./scripts/setup.sh

image: setup
	@./scripts/lab-image.sh

lab: setup
	@./scripts/lab-up.sh

lab-down:
	@./scripts/lab-down.sh

# N more light lab hosts (group scale in inventories/lab/scale.yml) for fleet-scale runs.
N ?= 24
lab-scale: setup
	@N=$(N) ./scripts/lab-scale.sh

incident: setup
	@mkdir -p .cache && rm -f .cache/incident-$(HOST).txt
	@$(VENV)/ansible-playbook playbooks/lab_incident.yml -e incident_host=$(HOST) \
	    $(if $(RELEASE),-e incident_release=$(RELEASE)) $(if $(FILE),-e incident_file=$(FILE)) \
	    > .cache/incident-$(HOST).log 2>&1 \
	    || { cat .cache/incident-$(HOST).log; echo "incident: failed, log in .cache/incident-$(HOST).log"; exit 1; }
	@grep -E '^(TASK|ok|changed|fatal)' .cache/incident-$(HOST).log | tail -n 4
	@cat .cache/incident-$(HOST).txt

demo: setup lab
	@mkdir -p .cache && date -u +%Y-%m-%dT%H:%M:%S+00:00 > .cache/demo-since
	@$(MAKE) --no-print-directory incident HOST=$(HOST)
	@./scripts/demo-traffic.sh
	@# The evidence window starts with this demo (older lab experiments stay out of it).
	@$(VENV)/ansible-playbook playbooks/diagnose.yml -e since=$$(cat .cache/demo-since)
	@d=$$(ls -d $(CURDIR)/reports/[0-9]*/ 2>/dev/null | tail -n1); \
	    echo "demo: the fleet report is in $$d: report.html (open in a browser), report.md, report.json"

# Event-Driven Ansible: arm the incident, start the crash_storm rulebook against the lab, make
# the storm, wait for the rulebook's report; last line: EDA report=<dir> trigger=<host>.
eda-demo: setup lab
	@$(MAKE) --no-print-directory incident HOST=$(HOST)
	@HOST=$(HOST) ./scripts/eda-demo.sh

lint: setup
	@$(VENV)/ansible-lint --offline -q playbooks roles extensions/eda/rulebooks
	@$(VENV)/python -m compileall -q plugins > /dev/null
	@for m in plugins/modules/*.py; do \
	    $(VENV)/ansible-doc "phpfpm.opcache_fleet.$$(basename $$m .py)" > /dev/null || { echo "ansible-doc failed: $$m"; exit 1; }; \
	done; echo "lint: ansible-lint (playbooks, roles, rulebooks) and ansible-doc ok"

unit: setup
	@$(VENV)/pytest -q tests/unit

# report.html of 1,000 generated hosts in headless Chromium: summary, collapse, search, filter, CSP.
browser: setup
	@$(VENV)/pytest -q tests/browser

# Every deliberate bug of tests/mutants/mutants.json must fail a unit test (scripts/mutants.py).
mutants: setup
	@$(VENV)/python scripts/mutants.py

# The built tarball, installed elsewhere and used with a neutral ansible.cfg.
collection: setup
	@$(VENV)/pytest -q -p no:cacheprovider tests/collection

# ansible-test sanity on the built collection, offline (scripts/sanity.sh).
sanity: setup
	@./scripts/sanity.sh

molecule: setup image
	@./scripts/molecule-all.sh -q

test: lint unit browser mutants collection sanity molecule

bench: setup
	@$(VENV)/python bench/evidence_bench.py

# What each cure costs on a lab host under load (docs/cure.md); about 12 minutes.
bench-cure: setup lab
	@$(VENV)/python bench/cure_cost.py --host $(HOST)
