# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= demo_out

.PHONY: demo test test-slow bench venv clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ntk-pinn kernel --operator "u_xx" --variables x --activation erf \
		--depth 2 --n 256 --out $(DEMO)/poisson1d_kernel
	@echo "Demo outputs (1-D Poisson, K* of a depth-2 erf network): $(DEMO)/poisson1d_kernel/"
	$(VENV)/bin/ntk-pinn study width --problem poisson_1d --widths 64 128 256 512 1024 2048 \
		--seeds 0 1 2 3 --depth 2 --activation erf --n-residual 32 --out $(DEMO)/width_study
	$(VENV)/bin/ntk-pinn posterior --problem poisson_1d --problem-param a=2 --kind nngp \
		--n-residual 32 --calibrate rkhs --out $(DEMO)/posterior

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/bench_kstar.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache *.egg-info
