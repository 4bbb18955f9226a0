"""Writing generated files so a reader never sees half of one (digest .docx, report, chart, outbox .eml)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from intake.store import make_dirs


def save_atomically(path: Path | str, write: Callable[[str], object]) -> Path:
    """Call ``write(temp_path)``, make it durable, then rename it over ``path`` in one step."""
    path = Path(path)
    make_dirs(path.parent)  # 0750 whatever the umask: generated files sit in the store
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path
