# Chronicle: `make run` starts everything on embedded servers; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
APT := DEBIAN_FRONTEND=noninteractive apt-get -q

.PHONY: run test lint typecheck imports unit integration e2e browser fuzz bench demo screenshots clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e clients/python
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chronicle up

# Debian's Chromium for the console's browser tests (Playwright's own download is not
# reachable): installed before the tests, so no test's time limit includes it.
$(CHROMIUM):
	@[ "$$(id -u)" = 0 ] || { echo "Chromium is missing: sudo apt-get install -y chromium"; exit 1; }
	$(APT) update >/dev/null
	$(APT) install -y chromium >/dev/null

test: lint typecheck imports $(CHROMIUM)
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

browser: $(STAMP) $(CHROMIUM)  # the console in Debian's Chromium
	$(BIN)/pytest tests/integration/browser

fuzz: $(STAMP)  # longer and unseeded than the fuzz run in `make test`
	$(BIN)/python -m tests.fuzz --max-examples 500

bench: $(STAMP)
	$(BIN)/chronicle bench

demo: $(STAMP)  # against the Chronicle `make run` started (in another terminal)
	$(BIN)/chronicle demo

screenshots: $(STAMP) $(CHROMIUM)  # each console page, from a fresh Chronicle with some activity
	$(BIN)/python -m tests.integration.browser.screenshots docs/screenshots

clean:
	rm -rf $(VENV) .chronicle .mypy_cache .pytest_cache .ruff_cache
