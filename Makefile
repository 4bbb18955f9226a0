# The two Quick start commands. Both set up what they need on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo run lint test test-fast venv test-deps clean

$(BIN)/tdc-bot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/tdc-bot

venv: $(BIN)/tdc-bot

# The main job on the embedded defaults, with no server: a whole reporting season
# generated into a local Maildir (var/demo) and replayed day by day.
demo: venv
	$(BIN)/tdc-bot demo

# One intake cycle on the embedded defaults (SQLite, local Maildir, file outbox under ./var).
run: venv
	$(BIN)/tdc-bot run --once

# Debian test servers (Dovecot, PostgreSQL, Postfix, rspamd, OCR, antiword) when missing, then the whole suite.
test-deps:
	scripts/install-test-deps.sh

# ruff and mypy, configured in pyproject.toml only; part of `make test`, so of CI.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

test: test-deps venv lint
	$(BIN)/pytest -q

# The developer's loop: unit tests only — no Dovecot, SMTP, PostgreSQL or receiving chain (DNS, rspamd, Postfix), no tdc-bot child processes,
# nothing marked slow — spread over the machine's cores (pytest-xdist). The whole suite stays `make test`, as in CI.
FAST := not imap and not smtp and not postgres and not mta and not cli and not slow
test-fast: venv
	$(BIN)/pytest -q -n auto -m "$(FAST)"

clean:
	rm -rf var .pytest_cache
