# Two commands for users: `make run` and `make test`. Everything else is their plumbing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
WEB_WORKERS ?= 1
PORT ?= 8000
export HOST PORT WEB_WORKERS

.PHONY: run test test-lowest install install-dev lint typecheck pytest clean

run: install
	$(BIN)/curator serve --host $(HOST) --port $(PORT) --web-workers $(WEB_WORKERS)

test: install-dev
	$(MAKE) lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest $(PYTEST_ARGS)

# The web's unit tests on the lowest versions pyproject.toml allows (a throwaway venv;
# CI runs it after `make test`).
test-lowest:
	scripts/test_lowest.sh

install: $(VENV)/.installed static/vendor/.installed

install-dev: install $(VENV)/.installed-dev

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Curator needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[worker]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[worker,dev]'
	@touch $@

# Front-end libraries come from the npm registry and are served from static/vendor;
# install scripts stay off (one dependency's only script is a telemetry ping).
static/vendor/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor/swagger-ui
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css static/vendor/swagger-ui/
	@touch $@

clean:
	rm -rf $(VENV) node_modules static/vendor
