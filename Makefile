# The two Quick start commands. Both set up what they need on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv test-deps clean

$(BIN)/tdc-bot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/tdc-bot

venv: $(BIN)/tdc-bot

# Main job on the embedded defaults (SQLite, local Maildir, file outbox under ./var).
run: venv
	$(BIN)/tdc-bot run --once

# Debian test servers (Dovecot, PostgreSQL, OCR, antiword) when missing, then the whole suite.
test-deps:
	scripts/install-test-deps.sh

test: test-deps venv
	$(BIN)/pytest -q

clean:
	rm -rf var .pytest_cache
