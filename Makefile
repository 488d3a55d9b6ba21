# Two entry points that work on a fresh machine: `make demo` and `make test`.
# The CPU build of PyTorch is installed first from its pinned version (a bare `torch` would pull a
# multi-GB CUDA build); the project's range `torch>=2.4` is then already satisfied.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench gpu-check gpu-wheels clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -q -e '.[dev,whisper-tiny]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sslasd demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_fbank.py
	$(BIN)/python bench/bench_backbone.py
	$(BIN)/python bench/bench_data.py
	$(BIN)/python bench/bench_backend.py

# The prepared GPU check (bench/gpu_check.sh): needs a CUDA GPU and a Python with a CUDA torch; fails
# at once without them. Writes gpu_check.{json,md,log} to $OUT, else bench/results/.
gpu-check:
	bash bench/gpu_check.sh

# Wheels (Python 3.12, x86-64 Linux) of the dependencies that a GPU image with torch lacks, for a
# machine without network: carry .whl/ with the checkout and gpu-check installs from it.
GPU_WHEELS ?= pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
	typing-extensions==4.16.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 lightning-fabric==2.6.6
gpu-wheels:
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl $(GPU_WHEELS)

clean-venv:
	rm -rf $(VENV)
