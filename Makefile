# The two commands a newcomer needs: `make up` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON := .venv/bin/python
BENCH ?=

.PHONY: help install up down status test test-unit test-integration lint fmt bench

help:
	@echo "make up      install everything, start the servers and every service"
	@echo "make test    install everything, run the whole test suite against real servers"
	@echo "make down    stop everything make up started"
	@echo "make status  what is running"
	@echo "make lint | fmt | bench"

install:
	@bash scripts/servers.sh install

up: install
	@bash scripts/servers.sh start
	@bash scripts/services.sh start
	@echo
	@echo "Dataflow is up:"
	@echo "  web UI           http://127.0.0.1:8080"
	@echo "  orchestrator     http://127.0.0.1:8081  (OAuth2 issuer: /oauth2/token)"
	@echo "  code runner      http://127.0.0.1:8082"
	@echo "  cron             http://127.0.0.1:8083"
	@echo "  stream pipelines http://127.0.0.1:8084"
	@echo "  credentials      .dataflow/credentials.json (admin user and development client)"
	@echo "  logs             .dataflow/logs/"

down:
	@bash scripts/services.sh stop
	@bash scripts/servers.sh stop

status:
	@bash scripts/servers.sh status; bash scripts/services.sh status

test: install
	@bash scripts/servers.sh start
	$(PYTHON) -m pytest tests/unit tests/integration

test-unit:
	$(PYTHON) -m pytest tests/unit

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: install
	@bash scripts/servers.sh start
	@set -e; if [ -n "$(BENCH)" ]; then $(PYTHON) -m bench.$(BENCH); else \
	  for module in bench/*.py; do name=$$(basename $$module .py); \
	    [ "$$name" = __init__ ] || $(PYTHON) -m bench.$$name; done; fi
