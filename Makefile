# The two commands of the set-up contract are `make demo` and `make test`.
# Both create .venv when it is missing and install what they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench golden clean browser-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsletter db upgrade
	$(BIN)/newsletter subscribers import subscribers/sample.csv
	$(BIN)/newsletter issue check 2026-12-01-microneedling
	$(BIN)/newsletter issue build 2026-12-01-microneedling
	$(BIN)/newsletter issue send 2026-12-01-microneedling --yes
	@echo
	@echo "Demo done. Look at:"
	@echo "  var/build/2026-12-01-microneedling/email.html  (open it in a browser)"
	@echo "  var/outbox/new/                                (one message per subscriber; any mail client reads Maildir)"
	@echo "  .venv/bin/newsletter issue status 2026-12-01-microneedling"

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench
	$(BIN)/mypy pipeline

pytest: $(STAMP)
	$(BIN)/pytest

test: lint pytest

bench: $(STAMP)
	$(BIN)/python -m bench

golden: $(STAMP)
	$(BIN)/python -m tests.render.golden --write

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
