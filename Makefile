# kapoutcomes: two commands do all the set-up.
#   make run   - create the environment if needed and serve the dashboards on 127.0.0.1
#   make test  - create the environment if needed and run every test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test lint format bench browser sample clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/kapoutcomes dashboard --host 127.0.0.1 --port $(PORT)

browser:
	@bash .ci/install-browser.sh

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench.run

sample: $(STAMP)
	$(BIN)/kapoutcomes sample --seed 7 --out sample_data

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
