PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# apt-get needs root: sudo when make runs as another user.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup chromium test lint typecheck unit demo bench bench-rehearsal examples clean

setup: $(STAMP) node_modules/.installed chromium

# Debian's chromium, which the report's browser test drives (Playwright's executable_path),
# and curl, which the README's serve session uses.
chromium:
	@{ command -v chromium && command -v curl; } >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
		chromium curl >/dev/null; }

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(PY) -m pytest

test: lint typecheck unit

demo: setup
	$(PY) -m patchctl demo

examples: setup
	$(PY) scripts/make_examples.py

bench: setup
	$(PY) -m bench.bench_planner
	$(PY) -m bench.bench_tables
	$(PY) -m bench.bench_serve
	$(PY) -m bench.bench_fleetsim
	$(PY) -m bench.bench_durable
	$(PY) -m bench.bench_rehearsal --fleets example

bench-rehearsal: setup
	$(PY) -m bench.bench_rehearsal

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache .hypothesis .import_linter_cache
