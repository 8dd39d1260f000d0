# Stepwise: `make run` serves the app on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; on a GPU host install the CUDA build you need before `make`.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Test processes (pytest-xdist, one test file per process at a time): each has its own Postgres
# database and Redis DB number, so they never share state.
TEST_WORKERS ?= 2

.PHONY: run test lint install services browser bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[model,dev]" --config-settings editable_mode=compat
	rm -f $(VENV)/.stamp-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/stepwise run

services:
	./scripts/services.sh

browser:
	./scripts/browser.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy grader/

test: $(STAMP) services browser lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python bench/grader.py
	$(BIN)/python bench/generate.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
