# needleplan — every target sets up .venv by itself on a fresh machine (Python 3.11 + make).
SHELL := /bin/bash
PY ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
CODE := $(wildcard src tests benchmarks)

.PHONY: setup run test lint format bench bench-scale clean messages

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.*" || \
	  $(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv

## The installed packages and src/ are compiled to bytecode at setup (uv compiles in parallel):
## these machines set PYTHONDONTWRITEBYTECODE, so otherwise every command would compile its
## imports again, and a fresh clone's first test run would compile them in every process.
$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PYTHON=$(PY) $(UV) sync --frozen --quiet --compile-bytecode
	$(VENV)/bin/python -m compileall -q src
	touch $(STAMP)

## Translations (docs/languages.md): the .po catalogues are committed; their .mo files are
## compiled here (the app also reads a .po directly when its .mo is missing or older).
LOCALE := src/needleplan/locale
MO := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/messages.po))
PYBABEL_EXTRACT := extract -F babel.cfg --no-location --sort-output --project needleplan \
  --copyright-holder "needleplan developers" --msgid-bugs-address "" -k N_

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -l $* -i $< -o $@

## messages: extract every marked text into messages.pot and merge it into each catalogue
## (then translate the new or fuzzy entries; `make test` fails while any is left).
messages: $(STAMP)
	$(BIN)/pybabel $(PYBABEL_EXTRACT) -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --ignore-obsolete

setup: $(STAMP) $(MO)

## run: the main job — a consultation for the reference patient, then the clinic web app with a
## demo clinic (SQLite file .demo/needleplan-demo.sqlite3; prints the address and demo logins;
## serves until Ctrl-C). DEMO_DB=... picks another database.
DEMO_DB ?= .demo/needleplan-demo.sqlite3
run: $(STAMP) $(MO)
	$(BIN)/needleplan consult
	$(BIN)/needleplan serve --demo --database $(DEMO_DB)

## test: lint, then the type check and the whole suite side by side (mypy is one process and
## the suite's two pytest-xdist workers leave a core idle at times: a fresh clone's 40 s of mypy
## no longer comes before the first test; its report is printed after the tests), branch
## coverage, then the wall time. Coverage is measured by SlipCover (bytecode probes, removed once a line has
## run: the suite costs about what it costs unmeasured, where coverage.py's trace function doubled
## it on Python 3.11; --immediate removes each probe at its first hit instead of after repeated
## hits: the same figures, and on tests/services + tests/forecasting 166 CPU-s instead of 190
## against 136 unmeasured); the report is printed from its JSON (.coverage-slipcover.json) by a second
## step, which fails below COVERAGE_FLOOR per cent (lines and branches together).
## tests/slipcover_run.py is `python -m slipcover` without the xdist controller's own scan of
## the source files nobody imported (its workers list them already): 3-5 s less at the end.
## Bytecode caching is allowed for the suite (PYTHONDONTWRITEBYTECODE unset) so the tests that
## start Python subprocesses do not recompile every import. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
COVERAGE_FLOOR ?= 90
COVERAGE_JSON := .coverage-slipcover.json
test: $(STAMP) $(MO)
	@start=$$(date +%s); typing_log=$$(mktemp); \
	$(BIN)/ruff check $(CODE) && $(BIN)/ruff format --check $(CODE) && { \
	  $(BIN)/mypy src benchmarks > $$typing_log 2>&1 & typing=$$!; \
	  env -u PYTHONDONTWRITEBYTECODE $(BIN)/python tests/slipcover_run.py --branch --immediate --source src/needleplan \
	    --json --out $(COVERAGE_JSON) -m pytest -p no:cov -n $(PYTEST_WORKERS) --dist worksteal -q; \
	  tests=$$?; wait $$typing; typed=$$?; echo "mypy src benchmarks:"; cat $$typing_log; \
	  [ $$typed -eq 0 ] && [ $$tests -eq 0 ] && \
	  $(BIN)/python -m slipcover --merge $(COVERAGE_JSON) --out $(COVERAGE_JSON) --skip-covered \
	    --missing-width 50 --fail-under $(COVERAGE_FLOOR); }; \
	status=$$?; rm -f $$typing_log; echo "make test: $$(( $$(date +%s) - start )) s wall"; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy src benchmarks

format: $(STAMP)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

## bench-scale (opt-in, docs/scale.md): a large clinic group in .scale/ (PostgreSQL through
## pgserver with SCALE_PG patients, SQLite with SCALE_SQLITE; kept between runs), then its pages.
## SCALE_DIR: where they live; SCALE_SETUP_ARGS: e.g. --pg-url URL --pg-dir DIR (an existing one).
SCALE_PG ?= 1000000
SCALE_SQLITE ?= 100000
SCALE_DIR ?= .scale
SCALE_SETUP_ARGS ?=
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale_setup.py --dir $(SCALE_DIR) --pg-patients $(SCALE_PG) --sqlite-patients $(SCALE_SQLITE) $(SCALE_SETUP_ARGS)
	NEEDLEPLAN_SCALE_DIR=$(SCALE_DIR) $(BIN)/python benchmarks/run.py scale

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .coverage
