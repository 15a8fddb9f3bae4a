# Two commands, as the README promises: `make demo` and `make test`.
# Each creates .venv when needed; re-running them installs nothing new.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0

.PHONY: demo test lint format clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	@echo "Installing torch==$(TORCH_VERSION) (CPU build) and sklearn-dvae into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	@$(BIN)/python -m pip install --quiet -e ".[test,plot]"
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/python -m sklearn_dvae demo

test: $(STAMP)
	@$(BIN)/python -m pytest -q

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	@$(BIN)/ruff check --fix . && $(BIN)/ruff format .

clean:
	rm -rf $(VENV) build *.egg-info
