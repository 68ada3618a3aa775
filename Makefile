# kubernaut.devinfra - DD-008 integration-test infrastructure on Podman.
# `make bootstrap-dev` runs the main job, `make test` runs every test.
# Each target creates or reuses the project venv (.venv) on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
INSTANCE ?= dev
SUITES ?=
ANSIBLE_ARGS ?=

BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
PLAYBOOK := $(BIN)/ansible-playbook -e devinfra_instance=$(INSTANCE) $(ANSIBLE_ARGS)

.PHONY: help venv venv-dev bootstrap-dev dev-status reset-dev cleanup-dev images \
        test-integration-dev test unit integration molecule lint sanity build bench bench-quick clean

help:
	@echo "make bootstrap-dev   PostgreSQL+pgvector and Redis up, migrated, proven ready (INSTANCE=$(INSTANCE))"
	@echo "make dev-status      what runs, where, which version; how to fix what is down"
	@echo "make reset-dev       suites back to the migrated state (SUITES=a,b for some)"
	@echo "make cleanup-dev     remove this instance's containers (data volumes kept; PURGE=1 removes them)"
	@echo "make test            every test: unit, lint, sanity, build, integration, molecule"
	@echo "make bench           benchmarks against baselines, results in bench/results/latest.md"

# Debian and Ubuntu ship python3 without venv support: install it when we can.
$(VENV)/.runtime: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else echo "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv) and re-run" >&2; exit 1; fi; }
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

bootstrap-dev: venv
	$(PLAYBOOK) playbooks/bootstrap.yml

dev-status: venv
	@$(PLAYBOOK) playbooks/status.yml

reset-dev: venv
	$(PLAYBOOK) playbooks/reset.yml $(if $(SUITES),-e devinfra_reset_suites=$(SUITES))

cleanup-dev: venv
	$(PLAYBOOK) playbooks/cleanup.yml $(if $(PURGE),-e devinfra_purge=true)

images: venv
	$(PLAYBOOK) playbooks/images.yml

# Fails in seconds with the exact fix when the infrastructure is not up.
test-integration-dev: venv
	$(BIN)/python tests/integration/sample_suite/check_services.py --instance $(INSTANCE)

unit: venv-dev
	$(BIN)/python -m pytest -q tests/unit

integration: venv-dev images
	$(BIN)/python -m pytest -q tests/integration

# Every role's default scenario. The kind scenario needs a kind binary and
# node image: tests/integration/test_kind_molecule.py runs it where they exist
# and reports the skip reason where they do not.
molecule: venv-dev images
	@set -e; for scenario in $$(cd roles && ls -d */molecule/default/ 2>/dev/null); do \
	  role=$${scenario%%/*}; \
	  echo "== molecule: role $$role, scenario default"; \
	  (cd roles/$$role && molecule test -s default); \
	done

lint: venv-dev
	$(BIN)/ansible-lint
	$(BIN)/ansible-playbook --syntax-check playbooks/*.yml
	bash tests/lint/actionlint.sh

sanity: venv-dev
	bash tests/sanity/run.sh

build: venv-dev
	$(BIN)/python -m pytest -q tests/integration/test_collection_build.py

test: unit lint sanity integration molecule

bench: venv-dev images
	$(BIN)/python bench/run.py

bench-quick: venv-dev images
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf build tests/output .pytest_cache
