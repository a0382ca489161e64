# OpsKnight: `make run` starts the product, `make test` runs the whole suite. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: run test test-fast bench-ingest bench-dispatch bench-live bench-status clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OpsKnight needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(VENV)/bin/python requirements.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/opsknight serve

test: $(VENV)/.dev
	scripts/ensure-system-packages.sh
	$(BIN)/python -m pytest --ignore=tests/e2e
	scripts/run-e2e.sh

test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not e2e and not slow"

bench-ingest: $(VENV)/.dev
	$(BIN)/python bench/ingest.py

bench-dispatch: $(VENV)/.dev
	$(BIN)/python bench/dispatch.py --timers

bench-live: $(VENV)/.dev
	$(BIN)/python bench/live.py

bench-status: $(VENV)/.dev
	$(BIN)/python bench/status.py

clean:
	rm -rf $(VENV) .web .states .data
