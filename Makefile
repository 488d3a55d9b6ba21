# Two entry points that work on a fresh machine: `make demo` and `make test`.
# The CPU build of PyTorch is installed first from its pinned version (a bare `torch` would pull a
# multi-GB CUDA build); the project's range `torch>=2.4` is then already satisfied.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -q -e '.[dev]'
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

clean-venv:
	rm -rf $(VENV)
