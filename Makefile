# pyalgo: the two set-up commands of the README, plus helpers.
#   make reproduce   install everything, then `pyalgo reproduce --quick`
#   make test        install everything, then the test suite
#   make bench       install everything, then every benchmark (results in bench_out/)
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install test reproduce bench wheel

# torch is installed only if missing, and then exactly 2.13.0 (a plain `pip install torch`
# would download gigabytes of CUDA packages). The extension builds against that torch.
install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install setuptools wheel ninja
	$(PIP) install --no-build-isolation -e ".[dev]"

test: install
	$(PYTHON) -m pytest -q

reproduce: install
	$(PYTHON) -m pyalgo reproduce --quick

bench: install
	$(PYTHON) -m pyalgo bench

wheel:
	$(PYTHON) -m pip wheel --no-build-isolation --no-deps -w dist .
