# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OLDEST := .venv-oldest
DEMO   ?= demo_out

.PHONY: demo test test-oldest test-slow bench docs venv venv-oldest clean

venv: $(STAMP)

# The newest supported versions, and no TensorFlow: neural-tangents declares it for its
# TF bridge only, which ntk_pinn never loads (.ci/requirements.py lists the rest).
$(STAMP): setup.cfg pyproject.toml .ci/requirements.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --upgrade $$($(PY) .ci/requirements.py)
	$(PY) -m pip install -q --no-deps "neural-tangents==0.6.5" -e .
	touch $(STAMP)

# The oldest supported versions (.ci/oldest.txt), installed as a plain `pip install` would
# (TensorFlow included): the suite then also shows that ntk_pinn keeps it unimported.
venv-oldest: $(OLDEST)/.installed-stamp

$(OLDEST)/.installed-stamp: setup.cfg pyproject.toml .ci/oldest.txt
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install -q --upgrade pip
	$(OLDEST)/bin/python -m pip install -q -e ".[test]" -c .ci/oldest.txt
	touch $@

demo: $(STAMP)
	$(VENV)/bin/ntk-pinn kernel --operator "u_xx" --variables x --activation erf \
		--depth 2 --n 256 --out $(DEMO)/poisson1d_kernel
	@echo "Demo outputs (1-D Poisson, K* of a depth-2 erf network): $(DEMO)/poisson1d_kernel/"
	$(VENV)/bin/ntk-pinn study width --problem poisson_1d --widths 64 128 256 512 1024 2048 \
		--seeds 0 1 2 3 --depth 2 --activation erf --n-residual 32 --out $(DEMO)/width_study
	$(VENV)/bin/ntk-pinn posterior --problem poisson_1d --problem-param a=2 --kind nngp \
		--n-residual 32 --calibrate rkhs --out $(DEMO)/posterior

# -n 2: two pytest-xdist workers (CI has 2 cores; measured 12 min 25 s for the newest leg,
# ~18 min in one process). --durations: CI's log lists the slowest tests (keep each leg
# under ~20 min).
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --durations=15

test-oldest: venv-oldest
	$(OLDEST)/bin/python -m pytest -q -n 2 -p no:cacheprovider --durations=15

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# The documentation site: mkdocs (Material) + mkdocstrings, in a venv of its own (the API
# pages are read from the sources by static analysis; no jax needed). Output: site/.
DOCS_VENV := .venv-docs
$(DOCS_VENV)/.installed-stamp: docs/requirements.txt
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install -q --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install -q -r docs/requirements.txt
	touch $@

docs: $(DOCS_VENV)/.installed-stamp
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) benchmarks/bench_kstar.py

clean:
	rm -rf $(VENV) $(OLDEST) $(DOCS_VENV) $(DEMO) site .pytest_cache *.egg-info
