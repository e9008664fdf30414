# deeprelax developer entry points. Every target creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-install
JOBS   ?= 2

.PHONY: demo test test-fast bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m deeprelax.cli demo --out figures/out

# the whole suite, slow tests included (what CI runs: .ci/run)
test: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) tests

# without the tests marked slow (each > ~3 s warm), for quick iteration
test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) -m "not slow" tests

# peers (fplanck, py-pde, hj_reachability + JAX) are installed only for the benchmarks
$(VENV)/.stamp-bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

bench: $(VENV)/.stamp-bench
	$(PY) -m deeprelax.cli bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache figures/out
