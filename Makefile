# kfp-triggers developer commands. Every target creates and reuses .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLE_CONFIG := examples/github-push
EXAMPLE_REQUEST := examples/github-push/requests/push.http

.DEFAULT_GOAL := help
.PHONY: help venv run test lint typecheck check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,gcp,kfp,vertex,fast-cel]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with every extra

run: $(STAMP) ## validate the example listener and run its sample GitHub push through it
	$(BIN)/kfp-triggers validate $(EXAMPLE_CONFIG)
	$(BIN)/kfp-triggers simulate -c $(EXAMPLE_CONFIG) -r $(EXAMPLE_REQUEST) \
		--secrets-dir $(EXAMPLE_CONFIG)/secrets

test: $(STAMP) ## run the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy --strict on the engine
	$(BIN)/mypy

check: lint typecheck test ## everything CI cares about

clean: ## remove build and cache artefacts (keeps .venv)
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
