"""Test-wide fixtures: the real servers live in tests/servers/ as pytest plugins."""
from __future__ import annotations

pytest_plugins = [
    "tests.servers.dovecot",
    "tests.servers.smtp",
    "tests.servers.postgres",
]
