# The two commands a fresh machine needs: `make demo` and `make test`. Both set up the
# virtual environment themselves; everything else here is a convenience.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: setup demo test lint unit integration e2e security conformance openapi bench local clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/content-service demo

local: setup
	$(BIN)/content-service local up

lint: setup
	$(BIN)/ruff check shared functions tests benchmarks

# The whole suite, in parallel, with the domain's coverage gate (>= 95 % of its lines).
test: setup lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --cov=content_service --cov-report= -q
	$(BIN)/coverage report --include='shared/content_service/domain/*' --fail-under=95

unit integration e2e security conformance infrastructure: setup
	$(BIN)/pytest tests/$@ -q

openapi: setup
	$(BIN)/python -m content_service.api.openapi > docs/openapi.json

bench: setup
	$(BIN)/python benchmarks/build.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage .content-service benchmarks/.work
