"""Helpers shared by the real-server fixtures."""
from __future__ import annotations

import atexit
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import pytest


class Startable(Protocol):
    def start(self) -> object: ...


S = TypeVar("S", bound=Startable)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(path_or_name: str, install_hint: str) -> str:
    """Return the binary's path, or skip locally / fail under CI=true with the exact install command."""
    found = path_or_name if os.path.isfile(path_or_name) and os.access(path_or_name,
                                                                       os.X_OK) else shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed; run: {install_hint}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout}s")


@contextmanager
def started(server: S, stop: Callable[[], None], root: Path | None = None) -> Iterator[S]:
    """``server`` started and yielded; stopped on exit, its folder ``root`` removed.

    ``stop`` is registered with atexit meanwhile: a server that daemonises (Postfix's master) or a
    pytest killed mid-run must not leave it behind.
    """
    atexit.register(stop)
    try:
        server.start()
        yield server
    finally:
        stop()
        atexit.unregister(stop)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
