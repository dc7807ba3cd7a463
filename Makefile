# c360 — every target sets up .venv itself (from requirements.lock) when it is missing or stale.
# Parameters: `make run CONVERSION_WINDOW_DAYS=30` overrides any key of $(PARAMS) (case-insensitive).
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml

.PHONY: help venv run test test-fast golden lab bench clean

help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create or refresh the virtualenv

# make's variables reach c360 through the environment, never through the recipe's shell: a value with `...`,
# $(...) or ; in it stays a value
run: export C360_MAKE_VARS = $(MAKEOVERRIDES)
run: export C360_PARAMS = $(PARAMS)
run: $(STAMP) ## Run the whole pipeline (PARAMS=file.yaml, KEY=value overrides) and render reports/
	$(BIN)/python -m c360 run --from-make

TEST_WORKERS ?= 2
test: $(STAMP) ## Run the unit tests and the notebook regression tests (TEST_WORKERS=2 processes, 0: one)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP) ## Run the unit tests only (no notebooks)
	$(BIN)/python -m pytest -m "not slow"

golden: $(STAMP) ## Re-execute notebooks/ on fixtures and store their outputs (review the diff!)
	$(BIN)/python -m c360 golden

lab: export C360_MAKE_VARS = $(MAKEOVERRIDES)
lab: export C360_PARAMS = $(PARAMS)
lab: $(STAMP) ## Open JupyterLab on notebooks/, on a scratch copy of the warehouse (build/lab.duckdb)
	$(BIN)/python -m c360 lab --from-make -- $(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP) ## Benchmark the pipeline on generated data at three sizes (BENCH_SIZES=10000x30,...)
	$(BIN)/python bench/run.py

clean: ## Remove build/ and reports/ (the venv stays)
	rm -rf build reports
