# Two commands, as the README promises: `make demo` and `make test`.
# Each creates .venv when needed; re-running them installs nothing new.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0

.PHONY: demo test lint format clean docs

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

# The documentation: the docs extra on top of the same .venv, then Sphinx with
# warnings as errors. Open docs/_build/html/index.html afterwards.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP) pyproject.toml
	@echo "Installing the docs extra (sphinx, numpydoc, sphinx-gallery) into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet -e ".[docs]"
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	@$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "Documentation built: open docs/_build/html/index.html"

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	@$(BIN)/ruff check --fix . && $(BIN)/ruff format .

clean:
	rm -rf $(VENV) build *.egg-info
