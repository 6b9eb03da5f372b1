# `make run`: the shop on SQLite with the demo catalogue, at http://127.0.0.1:8000
# `make test`: the whole suite (unit, HTTP, browser) on SQLite, then on PostgreSQL
# `make bench`: the load benchmark (see bench/run.py)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres chromium bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/shop serve --demo

# Debian's Chromium where apt is at hand; Playwright's own build elsewhere.
chromium: $(VENV)/.installed
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else $(PY) -m playwright install chromium; fi

test: test-sqlite test-postgres

test-sqlite: $(VENV)/.installed chromium
	env -u DATABASE_URL $(PY) -m pytest tests e2e

# Runs when a PostgreSQL server answers at TEST_POSTGRES_URL; REQUIRE_POSTGRES=1 makes it mandatory.
test-postgres: $(VENV)/.installed chromium
	@if $(PY) -c "import psycopg2; psycopg2.connect('$(TEST_POSTGRES_URL)', connect_timeout=3)" 2>/dev/null; then \
		DATABASE_URL='$(TEST_POSTGRES_URL)' $(PY) -m pytest tests e2e; \
	elif [ "$(REQUIRE_POSTGRES)" = 1 ]; then \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is not reachable" >&2; exit 1; \
	else echo "Skipped the PostgreSQL pass: no server at $(TEST_POSTGRES_URL)."; fi

bench: $(VENV)/.installed
	$(PY) bench/run.py
