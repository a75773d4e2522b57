# Two commands on a fresh clone: `make run` and `make test`. Each sets up .venv by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-services worker migrate sample-data bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## run: set up, migrate, start Redis + workers + the dashboard (embedded default)
run: $(STAMP)
	$(PY) -m jobs.launcher

## test: set up and run the whole suite (embedded Redis and SQLite unless REDIS_URL/DATABASE_URL say otherwise)
test: $(STAMP)
	$(PY) -m pytest

## test-services: the suite against the local PostgreSQL and Redis servers
test-services: $(STAMP)
	DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 $(PY) -m pytest

## worker: one more worker against the configured Redis (scale-out)
worker: $(STAMP)
	$(PY) -m jobs.worker

migrate: $(STAMP)
	$(PY) -m db.migrate

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
