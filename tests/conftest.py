"""Test-wide fixtures: the real servers live in tests/servers/ as pytest plugins."""
from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.servers.dovecot",
    "tests.servers.smtp",
    "tests.servers.postgres",
]


@pytest.fixture(scope="session")
def roster():
    """The shipped roster (config/roster), loaded once."""
    from workflow.roster import load_roster

    return load_roster()


@pytest.fixture(scope="session")
def campaigns():
    """The shipped campaigns (config/campaigns.toml), loaded once."""
    from workflow.campaigns import load_campaigns

    return load_campaigns()
