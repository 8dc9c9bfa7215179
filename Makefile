# Two commands do everything on a fresh machine:
#   make run   - set up, load demo data, run the app (embedded default: SQLite, no Redis)
#   make test  - set up and run the whole test suite against PostgreSQL and Redis
#                (starts them if down, installs Debian chromium if missing)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ebike
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-clocks lint setup services messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL ./scripts/run-demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	env -u DATABASE_URL $(BIN)/python manage.py makemigrations --check --dry-run

services:
	./scripts/ensure-test-services.sh

test: lint services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	REQUIRE_SERVICES=1 \
	$(BIN)/pytest $(PYTEST_ARGS)

# The date-sensitive tests on each day of one week (Wednesday at the 08:00 release
# instant, Friday in the reminder hour) and on both sides of midnight between two ISO
# weeks, Asia/Shanghai time. CI runs this after `make test`.
CLOCKS ?= 2026-11-30T09:30 2026-12-01T12:00 2026-12-02T08:00 2026-12-03T15:00 \
	2026-12-04T18:30 2026-12-05T21:00 2026-12-06T11:00 2026-12-06T23:59 2026-12-07T00:01
CLOCK_TESTS ?= tests/offices tests/appointments tests/counter tests/supervision tests/registration tests/browser \
	tests/test_clock.py

test-clocks: services
	@for clock in $(CLOCKS); do \
	  echo "== TEST_CLOCK=$$clock"; \
	  DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	  REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  REQUIRE_SERVICES=1 TEST_CLOCK=$$clock \
	  $(BIN)/pytest -q -p no:cacheprovider $(CLOCK_TESTS) || exit 1; \
	done

messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --no-obsolete
	$(BIN)/python manage.py compilemessages

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles
