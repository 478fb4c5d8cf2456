# The two commands a newcomer needs: `make up` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON := .venv/bin/python
RUFF := .venv/bin/ruff
STATE := $(or $(DATAFLOW_STATE_DIR),.dataflow)
# One benchmark module (bench/<name>.py) with BENCH=<name>; all of them by default.
BENCH ?=

.PHONY: help install up down status test test-unit lint fmt bench

help:
	@echo "make install  Debian packages, .venv, FerretDB, Kafka, PostgreSQL and the web UI bundle (cached after the first run)"
	@echo "make up       install, start the servers and every service, print the URLs"
	@echo "make down     stop the services, then the servers"
	@echo "make status   what is running"
	@echo "make test     install, start the servers, run the web UI's unit tests, tests/unit, tests/integration and tests/e2e (Chromium)"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make fmt      ruff format and ruff check --fix"
	@echo "make bench    every benchmark in bench/, or one with BENCH=<name>"

install:
	@bash scripts/servers.sh install

up: install
	@bash scripts/servers.sh start
	@bash scripts/services.sh start
	@echo
	@echo "Dataflow is up:"
	@echo "  web UI            http://127.0.0.1:8080"
	@echo "  orchestrator API  http://127.0.0.1:8081  (OAuth2 issuer, token endpoint /oauth2/token)"
	@echo "  code runner API   http://127.0.0.1:8082"
	@echo "  cron API          http://127.0.0.1:8083"
	@echo "  stream API        http://127.0.0.1:8084"
	@echo "  credentials       $(STATE)/credentials.json (admin user and development client)"
	@echo "  logs              $(STATE)/logs/"
	@echo "Stop everything with: make down"

down:
	@bash scripts/services.sh stop
	@bash scripts/servers.sh stop

status:
	@bash scripts/servers.sh status || true
	@bash scripts/services.sh status || true

test: install
	@bash scripts/servers.sh start
	@bash scripts/frontend.sh test
	$(PYTHON) -m pytest tests/unit tests/integration tests/e2e

test-unit:
	$(PYTHON) -m pytest tests/unit

lint:
	$(RUFF) check .
	$(RUFF) format --check .

fmt:
	$(RUFF) format .
	$(RUFF) check --fix .

bench: install
	@bash scripts/servers.sh start
	@if [ -n "$(BENCH)" ]; then \
	  $(PYTHON) -m "bench.$(BENCH)"; \
	else \
	  failed=(); \
	  for module in bench/*.py; do \
	    name="$$(basename "$$module" .py)"; \
	    [ "$$name" != __init__ ] || continue; \
	    echo "==> bench.$$name"; \
	    $(PYTHON) -m "bench.$$name" || failed+=("$$name"); \
	  done; \
	  if [ "$${#failed[@]}" -gt 0 ]; then echo "failed benchmarks: $${failed[*]}" >&2; exit 1; fi; \
	fi
