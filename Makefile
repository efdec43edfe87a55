# Span: the README's commands. `make run` serves the sample catalogue; `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Where the secret key is written: the instance folder Span reads (KB_INSTANCE_PATH).
INSTANCE := $(or $(KB_INSTANCE_PATH),instance)

# make serve: 8000 unless PORT is given; WORKERS defaults to the cores + 1 (gunicorn.conf.py).
SERVE_PORT = $(if $(filter command line environment,$(origin PORT)),$(PORT),8000)
WORKERS ?=
SAMPLE  ?= 1

.PHONY: run serve test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-server: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[server,postgres]'
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(INSTANCE)/secret_key:
	@mkdir -p $(INSTANCE)
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@

## Install, migrate, load the sample catalogue into an empty database, and serve.
run: $(VENV)/.installed $(INSTANCE)/secret_key
	$(BIN)/kb init
	@echo ""
	@echo "Span is running at http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	@if [ -z "$$KB_MAIL_URL" ]; then echo "Email (welcome messages, password reset links) is saved as .eml files in instance/mail/; set KB_MAIL_URL to send it."; fi
	@echo ""
	@# Local plain HTTP, so cookies cannot be marked Secure here; production leaves this unset.
	KB_SECURE_COOKIES=0 $(BIN)/kb run --host $(HOST) --port $(PORT)

## Production: the same set-up as `make run` (the sample catalogue only into a database with no
## entries, and not at all with SAMPLE=0), then gunicorn with gunicorn.conf.py.
serve: $(VENV)/.installed-server $(INSTANCE)/secret_key
	$(BIN)/kb init $(if $(filter 0,$(SAMPLE)),--no-sample)
	KB_BIND=$(HOST):$(SERVE_PORT) KB_WORKERS=$(WORKERS) $(BIN)/gunicorn --config gunicorn.conf.py 'kb:create_app()'

## Install the test extras, lint, and run the whole suite on SQLite (browser tests need
## Chromium), then everything but the browser tests on PostgreSQL (a throwaway cluster from
## the server binaries; left out without them unless KB_REQUIRE_POSTGRES=1).
TEST_WORKERS ?= 2
PYTEST = $(BIN)/python -m pytest $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist worksteal)
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)
	@if [ "$$KB_REQUIRE_POSTGRES" = 1 ] || [ -n "$$KB_POSTGRES_BIN" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "The suite again on PostgreSQL, without the browser tests:"; \
	  KB_TEST_DATABASE=postgresql $(PYTEST) -m "not browser"; \
	else \
	  echo "No PostgreSQL server binaries (/usr/lib/postgresql/*/bin): the PostgreSQL run is left out."; \
	fi

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
