# make run: serve the app (with the demo meeting) on 127.0.0.1:$(PORT)
# make test: lint translations node_modules/.package-lock.json and run the whole suite (PostgreSQL too when TEST_DATABASE_URL is set)
# make bench: the benchmarks of bench/ against PostgreSQL on 127.0.0.1:5432 (BENCH_QUICK=1: the short run)
VENV := .venv
PYTHON := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
PORT ?= 5000
CHROMIUM := $(wildcard /usr/bin/chromium)

.PHONY: run test lint bench i18n translations
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k _lp:1c,2 -k lazy_pgettext:1c,2

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

# The check-in page's QR scanner (@zxing/browser), pinned in package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

$(VENV)/.bench-installed: bench/requirements.txt | $(VENV)/.dev-installed
	$(PYTHON) -m pip install --quiet -r bench/requirements.txt
	touch $@

instance/secret_key:
	mkdir -p instance
	python3 -c 'import secrets; print(secrets.token_hex(32))' > $@

# The French and Spanish catalogs, compiled for the app (the .mo files are not kept in git).
translations: $(VENV)/.run-installed
	$(VENV)/bin/pybabel -q compile -d translations

# After changing user-facing strings: extract them, add them to the catalogs (then translate the new
# entries in translations/*/LC_MESSAGES/messages.po), and compile.
i18n: $(VENV)/.run-installed
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --sort-output -o translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel -q compile -d translations

# The outbox worker runs beside the web server and stops with it.
run: $(VENV)/.run-installed instance/secret_key translations node_modules/.package-lock.json
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	export MEETING_SECRET_KEY=$$(cat instance/secret_key) MEETING_BASE_URL=$${MEETING_BASE_URL:-http://127.0.0.1:$(PORT)}; \
	$(FLASK) outbox deliver --loop & worker=$$!; \
	$(FLASK) onsite badges --loop & badges=$$!; \
	trap 'kill $$worker $$badges 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The suite runs in TEST_WORKERS processes (pytest-xdist), each on its own databases: by default one
# more than the cores, since the tests often wait on the database, a browser or a thread of their
# own; TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: lint translations node_modules/.package-lock.json
ifeq ($(CHROMIUM),)
	@echo "Chromium not found at /usr/bin/chromium: the browser tests in tests/e2e are not run."
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --ignore=tests/e2e
else
	$(PYTHON) -m pytest -n $(TEST_WORKERS)
endif

bench: $(VENV)/.dev-installed $(VENV)/.bench-installed
	$(PYTHON) -m bench.run
