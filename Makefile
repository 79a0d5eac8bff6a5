# The two commands the README promises: `make demo` and `make test`.
# Each creates its own virtual environment on first use; `make test` also
# installs and starts the test backends (scripts/with-backends.sh).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint check-types check-imports pytest clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/llmdeck demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-types: $(BIN)/.installed
	$(BIN)/mypy

check-imports: $(BIN)/.installed
	$(BIN)/lint-imports

# pytest runs with the real backends and tmux: scripts/with-backends.sh installs
# them once, starts those not running, and stops afterwards only what it started
# (running ones are reused). LLMDECK_NO_BACKENDS=1 skips that; their tests then
# skip and say why.
pytest: $(BIN)/.installed
	bash scripts/with-backends.sh $(BIN)/pytest -q -p no:cacheprovider

test: lint check-types check-imports pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
