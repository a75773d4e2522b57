# Two commands on a fresh clone: `make run` and `make test`. Each sets up .venv by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_SERVICE_URL ?= redis://127.0.0.1:6379/0
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

.PHONY: run test lint test-embedded test-services browser screenshots worker migrate sample-data bench gpu-check clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## run: set up, migrate, start Redis + workers + the dashboard (embedded default)
run: $(STAMP)
	$(PY) -m jobs.launcher

## test: set up, lint (ruff), then the whole suite on the embedded default (browser tests included),
## then again against the local PostgreSQL and Redis when they answer
test: lint test-embedded
	@if $(PY) -m tests.services $(PG_URL) $(REDIS_SERVICE_URL); then \
		$(MAKE) --no-print-directory test-services; \
	else echo "== local PostgreSQL/Redis not reachable: the services pass is skipped"; fi

## lint: ruff with the settings in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check .

test-embedded: $(STAMP) browser
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest

## test-services: the suite (without the browser tests) against the local PostgreSQL and Redis servers
test-services: $(STAMP)
	@echo "== the suite against $(PG_URL) and $(REDIS_SERVICE_URL)"
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_SERVICE_URL) $(PY) -m pytest -m "not browser"

## screenshots: run the browser tests and refresh the README's pictures (docs/screenshots) from them
screenshots: $(STAMP) browser
	TRAINYARD_README_SHOTS=1 $(PY) -m pytest tests/browser -q

## browser: Debian's Chromium for the browser tests (Playwright never downloads a browser)
browser:
	@test -x $(CHROMIUM) || $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 \
		|| ($(SUDO) apt-get update -q >/dev/null 2>&1 && $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1) \
		|| echo "Chromium could not be installed: the browser tests will skip, saying why"

## worker: one more worker against the configured Redis (scale-out)
worker: $(STAMP)
	$(PY) -m jobs.worker

migrate: $(STAMP)
	$(PY) -m db.migrate

## gpu-check: each family one short epoch on CUDA with AMP, one GPU and two where there are; a table (skips without CUDA)
gpu-check: $(STAMP)
	env -u DATABASE_URL $(PY) -m bench.gpu_check

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
