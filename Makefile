# `make demo`: set up a venv and run the main job on the bundled synthetic demo data.
# `make test`: set up a venv and run the test suite (this is what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint clean-demo

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) reproduce/table5.py --demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=20 tests

clean-demo:
	rm -rf $${ME_RESNET_CACHE:-$$HOME/.cache/me_resnet}/demo
