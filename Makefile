# The two commands of the README: `make run` (the study and its report) and `make test`.
# Both create .venv and install the pinned, CPU-only tested environment (constraints.txt).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# An extra package index for torch, empty by default (this machine has the CPU wheel locally).
# Elsewhere the torch pin alone pulls the multi-GB CUDA build from PyPI; for the CPU build use
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP_INDEX := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

.PHONY: run test typecheck bench docs lint clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,cluster,docs,onnx]' $(PIP_INDEX)
	touch $@

run: $(BIN)/.installed
	$(BIN)/deepsets run $(ARGS)

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	DEEPSETS_NOTEBOOK_STEPS=20 $(MAKE) --no-print-directory docs  # strict build, a short walkthrough
	$(BIN)/python -m pytest $(ARGS)

# The documentation site (mkdocs.yml) into site/, strict: a broken reference or link fails.
# The walkthrough notebook is executed as the exercise sets it, 4000 steps per model, so that its
# page shows the numbers its text is about (about 30 s of the build on a 2-core CPU); `make test`
# builds it with 20 steps (its pages and links are what it checks; the notebook says it is short).
docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

typecheck: $(BIN)/.installed
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .mypy_cache site .cache
