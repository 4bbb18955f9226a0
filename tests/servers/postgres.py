"""A throwaway PostgreSQL cluster for the integration tests, one per test session.

Why a real cluster: SQLite forgives things PostgreSQL does not (types, unique
constraints under concurrency, transactional DDL, lost connections), and the
daemon runs on PostgreSQL in production. The cluster lives in a temporary
folder, listens only on 127.0.0.1, trusts local logins and runs with
``fsync=off``: it is disposable by design and fast to start.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.common import free_port, in_ci, require_binary, started, wait_for_port

INSTALL_HINT = "apt-get install -y postgresql"
SERVICE_USER = "postgres"
SUPERUSER = "postgres"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def find_pg_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<v>/bin (Debian layout), else ``pg_config --bindir``."""
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").is_file()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

    if candidates:
        return max(candidates, key=version)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").is_file():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_service_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root, so root runs it as the ``postgres`` account."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", SERVICE_USER, "--", *cmd]


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, controlled with pg_ctl.

    ``stop()``/``start()``/``restart()`` keep the same port and data, so tests
    can check that the daemon survives the database going away and coming back.
    """

    def __init__(self, bindir: Path, base_dir: Path | None = None, host: str = "127.0.0.1") -> None:
        self.bindir = bindir
        self.host = host
        self.port = free_port()
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="tdc-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "postgres.log"
        self._initialised = False

    # -- cluster lifecycle ---------------------------------------------------------

    def init(self) -> None:
        """Create the cluster (UTF-8, C.UTF-8 collation when available, trust auth)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                service = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                raise RuntimeError(f"running as root needs the '{SERVICE_USER}' account; run: {INSTALL_HINT}") from None
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, service.pw_uid, service.pw_gid)
        base = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                "--no-sync"]
        first = self._run(base + ["--locale=C.UTF-8"], check=False)
        if first.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._run(base + ["--no-locale"])
        self._initialised = True

    def start(self) -> None:
        if not self._initialised:
            self.init()
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses={self.host} -c fsync=off"
        result = self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options, "-w", "-t",
             "60", "start"],
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start on port {self.port}:\n{result.stderr}\n{self.log_tail()}")
        wait_for_port(self.port, host=self.host)

    def stop(self) -> None:
        if self.is_running():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def restart(self) -> None:
        """Stop and start again on the same port; every open connection is cut."""
        self.stop()
        self.start()

    def is_running(self) -> bool:
        if not self._initialised:
            return False
        result = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    def destroy(self) -> None:
        """Stop the server and delete its folder; safe to call twice (fixture end and atexit)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self._initialised = False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        # Output is captured and the server logs to a file (-l), so no pipe stays open after pg_ctl exits.
        result = subprocess.run(_as_service_user(cmd), capture_output=True, text=True, timeout=120, cwd=self.base_dir)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    # -- databases ---------------------------------------------------------------------

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """SQLAlchemy URL for ``database``, logging in as the trusted superuser."""
        return f"postgresql+{driver}://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def admin_url(self) -> str:
        return self.url("postgres")

    def conninfo(self, database: str = "postgres") -> str:
        """libpq connection string, for talking to the server with psycopg directly."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={database} connect_timeout=10"

    def create_database(self, name: str) -> str:
        """Create an empty UTF-8 database and return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        _check_db_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even if a test left connections open (they are terminated first)."""
        import psycopg
        from psycopg import sql

        _check_db_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)


def _check_db_name(name: str) -> None:
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must be a lowercase SQL identifier of at most 63 characters")


# -- pytest fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One cluster for the whole session; tests get isolation from ``pg_url``'s fresh databases."""
    bindir = find_pg_bindir()
    require_binary(str(bindir / "initdb") if bindir else "initdb", INSTALL_HINT)
    assert bindir is not None
    if os.geteuid() == 0:
        require_binary("runuser", "apt-get install -y util-linux")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        message = "psycopg is not installed; run: pip install 'psycopg[binary]'"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = PostgresServer(bindir)
    with started(server, server.destroy):
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    if not postgres_server.is_running():  # a previous test may have stopped it and failed before start()
        postgres_server.start()
    url = postgres_server.create_database(name)
    yield url
    if postgres_server.is_running():
        postgres_server.drop_database(name)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (a file in tmp_path) and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tdc.db'}"
    return str(request.getfixturevalue("pg_url"))


POSTGRES_FIXTURES = frozenset({"postgres_server", "pg_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the cluster, so ``-m "not postgres"`` leaves them out."""
    for item in items:
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
