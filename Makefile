# The README's two commands: `make run` (serve the bundled model) and `make test` (install and test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run test serve-deps test-deps system-deps check-gpu-extra clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

serve-deps: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[cpu]'

test-deps: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[cpu,train,test]'

run: serve-deps
	$(BIN)/uvicorn app.main:app --host 0.0.0.0 --port $(PORT) --timeout-graceful-shutdown 30

system-deps:
	bash scripts/system-deps.sh

test: system-deps test-deps
	$(BIN)/python -m pytest

# The GPU build cannot be installed without a GPU, but its pin must exist for the GPU image to build:
# fetch onnxruntime-gpu's wheel for Python 3.11 on Linux (no install). CI runs this.
GPU_PIN = $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["gpu"][0])')
check-gpu-extra: $(BIN)/python
	d=$$(mktemp -d) && $(BIN)/pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
		--platform manylinux_2_28_x86_64 --dest "$$d" '$(GPU_PIN)'; rc=$$?; rm -rf "$$d"; exit $$rc

clean:
	rm -rf $(VENV) .pytest_cache
