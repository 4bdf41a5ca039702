# Two commands for a fresh machine: `make run` (the demo) and `make test`.
# Both create or reuse the virtual environment in .venv; `run` installs only
# what the application needs, `test` adds the test tools.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 8000

.PHONY: run test lint venv clean-demo chromium

$(RUN_STAMP): requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(DEV_STAMP)

venv: $(DEV_STAMP)

run: $(RUN_STAMP)
	PORT=$(PORT) bash scripts/run-demo.sh

test: $(DEV_STAMP) chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium through Playwright; Playwright's own
# browser download cannot run here, so the system package is installed instead.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-demo:
	rm -rf var/
