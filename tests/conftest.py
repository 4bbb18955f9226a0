"""Test-wide fixtures: the real servers live in tests/servers/ as pytest plugins."""
from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.servers.dovecot",
    "tests.servers.smtp",
    "tests.servers.postgres",
    # the receiving chain (issue 21 §3, issue 20): loopback DNS, rspamd, Postfix delivering to Dovecot by LMTP
    "tests.servers.dns",
    "tests.servers.rspamd",
    "tests.servers.postfix",
]


@pytest.fixture(scope="session")
def roster():
    """The shipped roster (config/roster), loaded once."""
    from reference.roster import load_roster

    return load_roster()


@pytest.fixture(scope="session")
def campaigns():
    """The shipped campaigns (config/campaigns.toml), loaded once."""
    from reference.campaigns import load_campaigns

    return load_campaigns()


# The Dovecot fixtures, as tests/servers/postgres.py and smtp.py do for theirs: a test that uses one is
# marked ``imap``, so ``make test-fast`` (no servers) leaves it out without a list to keep up to date.
DOVECOT_FIXTURES = frozenset({"dovecot_server", "dovecot"})


# A test module that drives the real command line (a tdc-bot child per call, about a second of CPU each)
# or the demo is an integration test: marked ``cli``, found by what the module calls, so new ones are too.
CLI_CALLS = ("run_cli(", "cli_json(", "run_demo(")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    drives_cli: dict[str, bool] = {}
    for item in items:
        if DOVECOT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.imap)
        path = str(getattr(item, "path", ""))
        if path not in drives_cli:
            try:
                source = open(path, encoding="utf-8").read()
            except OSError:
                source = ""
            drives_cli[path] = any(call in source for call in CLI_CALLS)
        if drives_cli[path]:
            item.add_marker(pytest.mark.cli)
