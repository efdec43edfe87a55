# Span: the README's commands. `make run` serves the sample catalogue; `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

instance/secret_key:
	@mkdir -p instance
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@

## Install, migrate, load the sample catalogue into an empty database, and serve.
run: $(VENV)/.installed instance/secret_key
	$(BIN)/kb init
	@echo ""
	@echo "Span is running at http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	@if [ -z "$$KB_MAIL_URL" ]; then echo "Email (welcome messages, password reset links) is saved as .eml files in instance/mail/; set KB_MAIL_URL to send it."; fi
	@echo ""
	@# Local plain HTTP, so cookies cannot be marked Secure here; production leaves this unset.
	KB_SECURE_COOKIES=0 $(BIN)/kb run --host $(HOST) --port $(PORT)

## Install the test extras, lint, and run the whole suite (browser tests need Chromium).
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Print performance figures (not part of the test suite). `make bench N=50000` for a bigger
## search catalogue.
N ?= 10000
bench: $(VENV)/.installed
	$(BIN)/python bench/browse_bench.py
	$(BIN)/python bench/search_bench.py --n $(N)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
