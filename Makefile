# vswap_nb: two commands for a fresh clone with only Python 3.11+ installed.
#   make demo   set up .venv, compare five designs on usemem, write compare.png
#   make test   set up .venv, run the whole test suite, then the example notebooks (small sizes)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
BASE    = $(VENV)/.installed-base
STAMP   = $(VENV)/.installed

.PHONY: demo test bench-check bench clean

# two stamps: the demo needs the package alone; the tests and benchmarks their extras
$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

$(STAMP): $(BASE)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(BASE)
	$(PY) -m vswap_nb compare --plot compare.png

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup
	VSWAP_NB_SMALL=1 $(PY) -m pytest -q --nbmake examples/

bench-check: $(STAMP)
	$(VENV)/bin/asv check --python=same

bench: $(STAMP)
	$(VENV)/bin/asv run --python=same --quick --show-stderr

clean:
	rm -rf $(VENV) .asv .pytest_cache .hypothesis
