"""Running the real `tdc-bot` command in tests, with a config file written per test."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TDC_BOT = str(Path(sys.executable).parent / "tdc-bot")


def wait_for(predicate, timeout: float, every: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; True if it held."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def write_config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    """A config on the embedded shape (Maildir + file outbox) with the given database.

    Reminders are off: the daemon runs on the wall clock, and a test run inside a real
    campaign window (22/11 after 08:00 in Hanoi, say) would also send that day's reminders.
    """
    path = tmp_path / "tdc.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n'
        f'[storage]\npath = "{tmp_path / "store"}"\n'
        f'[mailbox]\nsource = "maildir"\nmaildir = "{tmp_path / "mail"}"\n'
        f'[smtp]\ntransport = "file"\noutbox_dir = "{tmp_path / "outbox"}"\n'
        f'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\n'
        '[reminders]\nenabled = false\n' + extra,
        encoding="utf-8",
    )
    return path


def run_cli(*args: str, config: Path | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [TDC_BOT, *args]
    if config is not None:
        cmd += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if k != "TDC_CONFIG"}
    full_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def cli_json(*args: str, config: Path | None = None, **kw) -> object:  # type: ignore[no-untyped-def]
    return json.loads(run_cli(*args, "--json", config=config, **kw).stdout)


def status_row(config: Path, slug: str = "tay-ninh", year: int = 2024,
               env: dict[str, str] | None = None) -> dict:
    """One agency's row of ``tdc-bot status --json``: what a coordinator is told of it."""
    rows = cli_json("status", "--year", str(year), config=config, env=env)
    assert isinstance(rows, list)
    return next(r for r in rows if r["agency"] == slug)
