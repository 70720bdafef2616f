# crac_tools: every target sets itself up from scratch (a .venv at the repo root).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.crac-installed

.PHONY: all install sysdeps demo test stress lab bench lint clean

all: test

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "crac_tools needs Python >= 3.11 (python3.11 or newer on PATH)"; exit 1; fi
	@echo "creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing python3-venv (Debian/Ubuntu)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	    $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "python venv support is missing: install python3-venv (sudo apt-get install python3-venv)"; exit 1; \
	  fi; }
	@$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	@# nappy (the NASA Ames reference reader the export tests check against) only builds without isolation
	$(BIN)/python -m pip install -q wheel setuptools
	$(BIN)/python -m pip install -q --no-build-isolation "nappy>=2.0"
	@touch $(STAMP)

# Servers and a browser the tests start themselves (installed when root on Debian/Ubuntu and missing).
SYSDEPS := /usr/sbin/sshd:openssh-server /usr/bin/chromium:chromium
sysdeps:
	@missing=""; for pair in $(SYSDEPS); do [ -x "$${pair%%:*}" ] || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not installed:$$missing (tests that need them skip; run as root or apt-get install them)"; fi; \
	fi

install: $(STAMP)

demo: $(STAMP)
	rm -rf demo
	$(BIN)/crac demo demo

test: $(STAMP) sysdeps
	$(BIN)/ruff check crac_tools tests benchmarks
	$(BIN)/python -m pytest -q -ra

stress: $(STAMP) sysdeps
	CRAC_STRESS=1 $(BIN)/python -m pytest -q -ra

lab: $(STAMP)
	@[ -f demo/crac.yaml ] || $(MAKE) demo
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --no-browser \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

bench: $(STAMP)
	$(BIN)/python -m pip install -q pytoa5 readmet camp2ascii
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/readers.py
	$(BIN)/python benchmarks/backup.py
	$(BIN)/python benchmarks/web.py

lint: $(STAMP)
	$(BIN)/ruff check crac_tools tests benchmarks

clean:
	rm -rf $(VENV) demo build dist *.egg-info .pytest_cache
