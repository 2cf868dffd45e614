# Chronicle: `make run` starts everything on embedded servers; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck imports unit integration e2e browser fuzz bench demo screenshots clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e clients/python
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chronicle up

test: lint typecheck imports
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

browser: $(STAMP)  # the console in Debian's Chromium (installed with apt when missing)
	$(BIN)/pytest tests/integration/browser

fuzz: $(STAMP)  # longer and unseeded than the fuzz run in `make test`
	$(BIN)/python -m tests.fuzz --max-examples 500

bench: $(STAMP)
	$(BIN)/chronicle bench

demo: $(STAMP)  # against the Chronicle `make run` started (in another terminal)
	$(BIN)/chronicle demo

screenshots: $(STAMP)  # each console page, from a fresh Chronicle with some activity
	$(BIN)/python -m tests.integration.browser.screenshots docs/screenshots

clean:
	rm -rf $(VENV) .chronicle .mypy_cache .pytest_cache .ruff_cache
