# The README's two commands: `make run` (serve the bundled model) and `make test` (install and test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run test serve-deps test-deps system-deps clean

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

clean:
	rm -rf $(VENV) .pytest_cache
