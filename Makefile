# Quick start targets. TORCH picks the torch requirement installed before everything else:
#   make test                      # CPU wheel torch==2.13.0 (the default)
#   make test TORCH="torch==2.14.1" or TORCH="torch --index-url https://download.pytorch.org/whl/cu124"
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) examples/quickstart.py --out runs/demo

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
