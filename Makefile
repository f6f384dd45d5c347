# EPV Valuation Pro backend. `make run` starts the whole system; `make test` runs every test.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
RUN := $(UV) run --frozen
SERVICES_WITH_DB := auth cases audit marketdata

.PHONY: help install deps db migrate run test test-fast bench lint clean

help:
	@echo "make run     install, bootstrap the database, migrate, start all five services"
	@echo "make test    the whole suite against real PostgreSQL, Redis and RabbitMQ"
	@echo "make bench   the benchmarks in bench/"
	@echo "make db / migrate / lint / install"

$(UV):
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --user --quiet uv

install: $(UV)
	@$(UV) sync --frozen --all-packages

deps:
	@scripts/check-deps

db: install deps
	@$(RUN) python -m epv_common.bootstrap

migrate: db
	@for s in $(SERVICES_WITH_DB); do $(RUN) python -m epv_$$s migrate || exit 1; done
	@echo "migrations applied: $(SERVICES_WITH_DB)"

run: migrate
	@$(RUN) honcho start -f Procfile

test: install
	@scripts/run-tests

bench: install
	@command -v wrk >/dev/null 2>&1 || apt-get install -y wrk >/dev/null 2>&1 || echo "wrk missing: apt-get install -y wrk"
	@$(RUN) python -m bench $(BENCH)

lint: install
	@$(RUN) ruff check libs services tests bench

clean:
	rm -rf .venv .pytest_cache .ruff_cache
