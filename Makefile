# gamepipe: `make help` lists the targets. `make demo` and `make test` each do all
# their own set-up (virtual env, Debian packages, Maven fetch, services).
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
GAMEPIPE := $(VENV)/bin/gamepipe
PYTEST := $(VENV)/bin/pytest

help: ## Show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (gamepipe needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --progress-bar on -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## Create the virtual env with pinned dependencies

setup: venv ## Install Debian packages, fetch JVM artifacts into var/ (once)
	$(GAMEPIPE) setup

up: setup ## Start the local stack
	$(GAMEPIPE) up

down: ## Stop the local stack
	@[ -x $(GAMEPIPE) ] && $(GAMEPIPE) down || true

status: venv ## Show the stack's services
	$(GAMEPIPE) status

demo: setup ## Run the whole pipeline on the seed's scenario and print the results
	$(GAMEPIPE) demo

demo-cluster: setup ## The demo on the cluster profile: every node a host of its own (root)
	$(GAMEPIPE) demo --profile cluster

test: setup ## Run every test against real services (starts and stops the stacks, the containers too)
	$(PYTEST)
	$(PYTEST) tests/cluster
	$(PYTEST) tests/docker

unit: venv ## Run the unit tests only (no services)
	$(PYTEST) tests/unit

bench: up ## Every benchmark of the target figures (~35 min, the cluster profile too); rewrites docs/benchmarks.md
	$(VENV)/bin/python -m bench all cluster

lint: venv ## ruff and mypy --strict
	$(VENV)/bin/ruff check src tests $(wildcard bench)
	$(VENV)/bin/ruff format --check src tests $(wildcard bench)
	$(VENV)/bin/mypy src tests $(wildcard bench)

clean: down ## Stop the stack and delete var/ (data, logs, downloaded jars)
	rm -rf var

.PHONY: help venv setup up down status demo demo-cluster test unit lint clean bench
