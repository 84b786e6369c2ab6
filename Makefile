# The exact commands the README shows and CI runs.
PY ?= .venv/bin/python

.PHONY: install run test lint bench

install:
	bash scripts/install.sh test

CENTER ?=

run:
	bash scripts/install.sh run
	$(PY) -m qms run --bootstrap $(if $(CENTER),--center $(CENTER))

test: install
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

bench:
	bash scripts/install.sh bench
	$(PY) -m simulations.bench all --json
