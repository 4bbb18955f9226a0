"""External converters (tesseract, pdftoppm, antiword, soffice), found and run safely.

Each binary can be overridden by an environment variable (TDC_TESSERACT,
TDC_PDFTOPPM, TDC_ANTIWORD, TDC_SOFFICE) so a server can point at its own
build and tests can simulate a machine without it. Commands are run with an
argument list (no shell), no stdin, a timeout, and only on files we wrote to
a private temporary folder: nothing from the email is executed.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

_ENV = {
    "tesseract": "TDC_TESSERACT",
    "pdftoppm": "TDC_PDFTOPPM",
    "antiword": "TDC_ANTIWORD",
    "soffice": "TDC_SOFFICE",
}


class ToolError(Exception):
    """A converter failed, timed out or is missing; the message is Vietnamese-ready detail."""


def find_tool(name: str) -> str | None:
    """Path of the binary, or None. An override that does not exist means 'not installed'."""
    override = os.environ.get(_ENV.get(name, ""), "")
    if override:
        path = shutil.which(override)
        return path if path and os.access(path, os.X_OK) else None
    return shutil.which(name)


def run_tool(args: list[str], timeout: float, env: dict[str, str] | None = None) -> bytes:
    """Run a converter and return its stdout; raise ToolError on failure or timeout."""
    if timeout <= 0:
        raise ToolError("hết thời gian xử lý")
    try:
        proc = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=timeout, check=False, env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{os.path.basename(args[0])} quá {timeout:.0f} giây") from exc
    except OSError as exc:
        raise ToolError(f"không chạy được {os.path.basename(args[0])}: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ToolError(f"{os.path.basename(args[0])} lỗi {proc.returncode}: {detail[-1] if detail else ''}".strip())
    return proc.stdout


@functools.lru_cache(maxsize=8)
def tesseract_languages(binary: str) -> frozenset[str]:
    try:
        out = run_tool([binary, "--list-langs"], timeout=20)
    except ToolError:
        return frozenset()
    lines = out.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())
