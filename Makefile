# The two commands of the set-up contract are `make demo` and `make test`.
# Both create .venv when it is missing and install what they need, at the versions pinned
# in constraints.txt (`make lock` refreshes it; commit the result).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Node packages the tests run (axe-core, doiuse-email), pinned by tools/js/package-lock.json.
JS := tools/js
JS_STAMP := $(JS)/node_modules/.installed

.PHONY: demo test lint typecheck pytest bench golden clean browser-check lock docs docs-build vendor-altcha vendor-studio brand js reference

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --constraint constraints.txt -e '.[test]'
	touch $(STAMP)

# Resolve the newest versions pyproject.toml allows in a scratch venv and pin every package
# (direct and indirect) in constraints.txt. Run it to take upgrades on purpose, then
# `make test` (the golden files depend on exact mjml-python and css-inline versions).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[test]'
	{ echo "# Pinned by 'make lock' from pyproject.toml; make demo, make test and CI install with it."; \
	  .lock-venv/bin/pip freeze --exclude newsletter-pipeline --exclude pip; } > constraints.txt
	rm -rf .lock-venv build

$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund
	touch $(JS_STAMP)

js: $(JS_STAMP)

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
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs in one process per core (pytest-xdist); PYTEST_ARGS= runs it in one.
PYTEST_ARGS ?= -n auto
pytest: $(STAMP) $(JS_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest docs-build

docs-build: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir var/site-docs

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# make bench                  every benchmark, full sizes (minutes; run it on a quiet machine)
# make bench QUICK=1          smaller sizes, for a first look
# make bench BENCH="smtp"     only bench/bench_smtp.py
# BENCH_DATABASE_URL=postgresql+psycopg://... adds the PostgreSQL figures (a database of
# its own: the benchmarks drop and recreate its schema).
bench: $(STAMP)
	BENCH_QUICK=$(QUICK) $(BIN)/python -m bench $(BENCH)

golden: $(STAMP)
	$(BIN)/python -m tests.render.golden --write

# The SVG drawings (logo, social icons, the sample issue's pictures) rasterised to PNG.
DRAWINGS := brand/logo.svg:2 brand/mark.svg:2 $(patsubst %,%:2,$(wildcard brand/social/*.svg)) \
	$(wildcard issues/*/images/*.svg)
brand: $(STAMP)
	$(BIN)/python -m tools.rasterise $(DRAWINGS)

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache

# Refresh the ALTCHA widget served by the app from the npm registry (commit the result).
vendor-altcha:
	scripts/vendor-altcha.sh $(ALTCHA_VERSION)

# Refresh the studio's Markdown editor (EasyMDE) and htmx from the npm registry (commit the
# result): make vendor-studio [EASYMDE_VERSION=2.21.0] [HTMX_VERSION=2.0.11]
vendor-studio:
	scripts/vendor-studio.sh $(EASYMDE_VERSION) $(HTMX_VERSION)

# docs/reference/commands.md and configuration.md, from the Typer app and the settings model
reference: $(STAMP)
	$(BIN)/python -m tests.reference --write
