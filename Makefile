# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-sqlite test-postgres lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.app

## Install and run the app on its SQLite file under instance/ (http://127.0.0.1:5000).
run: $(VENV)/.app
	LEDGER_ENV=development $(BIN)/flask --app ledger run

## Install everything the tests need, then run the whole suite on SQLite
## (browser tests included) and again on a private PostgreSQL server.
## Both passes always run, so one run reports both; it fails if either failed.
test: $(VENV)/.test
	scripts/system-deps.sh
	status=0; \
	$(MAKE) test-sqlite || status=1; \
	$(MAKE) test-postgres || status=1; \
	exit $$status

test-sqlite:
	mkdir -p build
	$(BIN)/pytest --junitxml=build/test-sqlite.xml

test-postgres:
	mkdir -p build
	scripts/with-postgres.sh $(BIN)/pytest -m "not browser and not sqlite_only" --junitxml=build/test-postgres.xml

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@ $(VENV)/.test $(VENV)/.app

## Build the benchmark's dataset, serve it with gunicorn and measure it with
## wrk against a bare Flask floor (README, "Benchmark"). As root it installs
## Debian's wrk when missing. `make bench BENCH_ARGS=--small` is the quick run.
bench: $(VENV)/.bench
	command -v wrk >/dev/null || apt-get install -y -qq wrk \
		|| { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf build .pytest_cache
