"""Backup and restore: one ``.tar.gz`` holding the database, the raw store and a manifest.

Why this shape:

* **The database goes first, the store second.** The store is written
  before any database commit and never rewritten (content-addressed), so a
  store copied *after* the database holds every file the copied rows point
  to, even while the daemon keeps running.
* **SQLite** is copied with the sqlite3 backup API (a consistent snapshot,
  safe beside a running daemon in WAL mode) as ``database/tdc.sqlite``.
  **PostgreSQL** is dumped through SQLAlchemy as JSON lines, one file per
  table, read inside one REPEATABLE READ transaction (one snapshot). No
  ``pg_dump`` is needed on the machine, and the same archive restores into
  either backend, which also makes moving from SQLite to PostgreSQL a
  backup plus a restore.
* **The manifest** records the release, the Alembic revision, row counts
  and the SHA-256 of every member; restore verifies all of them before it
  touches anything.
* **Restore goes into an empty target** (database without recorded mail,
  empty store folder) unless ``force`` is given, and rewrites the stored
  file paths from the old store folder to the new one.
* **No way into the board travels in an archive.** The key that signs the
  board's cookies is left out of every backup and never installed from one
  (an archive is untrusted: a key from it would let its author sign cookies
  the board believes), and the board's sessions are neither kept nor
  restored: a restore logs everyone out. The accounts restored are listed.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, Table, create_engine, delete, func, inspect, select, text
from sqlalchemy import table as named_table
from sqlalchemy.engine import make_url

from intake.store import FILE_MODE, make_dirs
from workflow import accounts
from workflow.db import models
from workflow.db.engine import alembic_config, upgrade
from workflow.operations.restore_safety import (
    ArchiveLimits,
    ArchiveTooLarge,
    UnsafeArchive,
    extract_bounded,
    hold_restored_outbox,
    stored_paths_inside,
)

if TYPE_CHECKING:
    from workflow.app import App

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/tdc.sqlite"
TABLES_DIR = "database/tables"
STORE_DIR = "store"
# Files in the store that are state of a running process, or a key to the board: not data.
STORE_SKIP = frozenset({"intake.lock", accounts.SECRET_FILE})
# Not restored: a lease names a daemon of the old installation; sessions are logins to the old board.
SKIP_TABLES = frozenset({"leases", models.WebSession.__tablename__})
# Tables a fresh installation fills by itself (mirrors of config): they do not make a target "non-empty".
REFERENCE_TABLES = frozenset({"agencies", "campaigns", "leases", "job_runs"})
BATCH = 500


class BackupError(Exception):
    """A backup or restore that cannot be done safely; the text says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    counts: dict[str, int]
    files: int
    revision: str | None
    notes: list[str] = field(default_factory=list)


# -- helpers --------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _package_version() -> str:
    try:
        return metadata.version("tdc-intake")
    except metadata.PackageNotFoundError:
        return "unknown"


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return heads[0] if heads else None


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()  # type: ignore[arg-type]


def data_tables() -> list[Table]:
    """The application's tables in foreign-key order (parents first)."""
    return [t for t in models.Base.metadata.sorted_tables if t.name not in SKIP_TABLES]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to a backup")


def _decode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """JSON values back to Python by the column types (timestamps are the only non-JSON type)."""
    out = {}
    for name, value in row.items():
        column = table.columns.get(name)
        if column is None:
            raise BackupError(f"bản sao lưu có cột lạ {table.name}.{name}: không khớp lược đồ của phiên bản này")
        if isinstance(value, str) and isinstance(column.type, models.UtcDateTime):
            parsed = datetime.fromisoformat(value)
            value = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        out[name] = value
    return out


# -- backup ---------------------------------------------------------------------------------


def _dump_sqlite(engine: Engine, target: Path) -> dict[str, int]:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        raise BackupError("cơ sở dữ liệu SQLite trong bộ nhớ không sao lưu được")
    if not Path(database).is_file():
        raise BackupError(f"không có tệp cơ sở dữ liệu {database}")
    src = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        tables = {name for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        dst.execute("PRAGMA secure_delete=ON")  # the deleted rows' bytes are overwritten, not left in free pages
        for name in sorted(SKIP_TABLES & tables):  # logins to this board stay out of the copy
            dst.execute(f'DELETE FROM "{name}"')  # noqa: S608 - our own table names
        dst.commit()
        counts = {t.name: dst.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0]  # noqa: S608 - our own table names
                  for t in data_tables() if t.name in tables}
    finally:
        dst.close()
        src.close()
    return counts


def _dump_tables(engine: Engine, folder: Path) -> dict[str, int]:
    """Every table as JSON lines, all read in one snapshot."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        for table in data_tables():
            n = 0
            with open(folder / f"{table.name}.jsonl", "w", encoding="utf-8") as fh:
                order = [c for c in table.primary_key.columns]
                for row in conn.execute(select(table).order_by(*order)).mappings():
                    fh.write(json.dumps(dict(row), ensure_ascii=False, default=_json_default) + "\n")
                    n += 1
            counts[table.name] = n
    return counts


def _store_files(root: Path, keys: frozenset[Path] = frozenset()) -> Iterator[Path]:
    """The store's data files: no lock, no temporary file, no signing key (``keys``: the configured ones too)."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name in STORE_SKIP or path.name.startswith(".tmp"):
            continue
        if path.resolve() not in keys:
            yield path


def signing_keys(app: App) -> frozenset[Path]:
    """The board's signing key file(s) this installation uses: never copied into, nor out of, an archive."""
    return frozenset({accounts.signing_key_path(app.store_root, app.settings.web.secret_key_file).resolve(),
                      accounts.signing_key_path(app.store_root, None).resolve()})


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o640
    info.mtime = int(mtime if mtime is not None else datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def create_backup(app: App, out: Path) -> BackupResult:
    """Write the archive atomically (a partial file is renamed only when complete)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    engine = app.db.engine
    revision = current_revision(engine)
    backend = engine.dialect.name
    store_root = app.store_root
    members: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix=".tdc-backup-", dir=out.parent) as tmp_name:
        tmp = Path(tmp_name)
        if backend == "sqlite":
            db_file = tmp / "tdc.sqlite"
            counts = _dump_sqlite(engine, db_file)
            db_members = {SQLITE_MEMBER: db_file}
            db_format = "sqlite"
        else:
            counts = _dump_tables(engine, tmp / "tables")
            db_members = {f"{TABLES_DIR}/{p.name}": p for p in sorted((tmp / "tables").glob("*.jsonl"))}
            db_format = "jsonl"
        partial = tmp / "archive.tar.gz"
        files = 0
        total = 0
        with tarfile.open(partial, "w:gz") as tar:
            for name, path in db_members.items():
                members[name] = _sha256_file(path)
                tar.add(path, arcname=name, recursive=False)
            for path in _store_files(store_root, signing_keys(app)):
                data = path.read_bytes()  # hashed from the very bytes archived
                name = f"{STORE_DIR}/{path.relative_to(store_root).as_posix()}"
                members[name] = hashlib.sha256(data).hexdigest()
                _add_bytes(tar, name, data, path.stat().st_mtime)
                files += 1
                total += len(data)
            manifest = {
                "format": FORMAT_VERSION,
                "application": "tdc-intake",
                "version": _package_version(),
                "created_at": datetime.now(UTC).isoformat(),
                "database": {"backend": backend, "format": db_format, "revision": revision, "counts": counts},
                "store": {"root": app.settings.storage.path, "root_resolved": str(store_root.resolve()),
                          "files": files, "bytes": total},
                "members": members,
            }
            _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        os.chmod(partial, 0o600)  # the whole database and every report: readable by the owner only
        os.replace(partial, out)
    return BackupResult(out, manifest)


# -- reading an archive ---------------------------------------------------------------------


def _safe_member(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"tệp sao lưu có đường dẫn không an toàn: {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise BackupError(f"tệp sao lưu có mục không phải tệp thường: {member.name!r}")
    if member.isfile() and member.name != MANIFEST and not (
            member.name == SQLITE_MEMBER or member.name.startswith(f"{TABLES_DIR}/")
            or member.name.startswith(f"{STORE_DIR}/")):
        raise BackupError(f"tệp sao lưu có mục lạ: {member.name!r}")


def extract_verified(archive: Path, into: Path, limits: ArchiveLimits | None = None) -> dict[str, Any]:
    """Unpack into ``into`` and check every member against the manifest; returns the manifest.

    The archive is untrusted until verified: unpacking streams with size caps
    (see workflow.operations.restore_safety), so a bomb stops at the cap, not at the disk's end.
    """
    try:
        extract_bounded(archive, into, _safe_member, limits)
    except ArchiveTooLarge as exc:
        raise BackupError(f"tệp sao lưu {archive} bị từ chối: {exc}") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"không đọc được tệp sao lưu {archive}: {exc}") from None
    manifest_path = into / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{archive}: thiếu {MANIFEST}, không phải bản sao lưu của tdc-intake")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{archive}: {MANIFEST} hỏng ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{archive}: định dạng sao lưu {manifest.get('format')!r} không được hỗ trợ")
    expected: dict[str, str] = manifest.get("members", {})
    present = {p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file()} - {MANIFEST}
    for name in sorted(set(expected) - present):
        raise BackupError(f"{archive}: thiếu {name} (có trong manifest)")
    for name in sorted(present - set(expected)):
        raise BackupError(f"{archive}: có {name} không ghi trong manifest")
    for name, digest in expected.items():
        if _sha256_file(into / name) != digest:
            raise BackupError(f"{archive}: {name} sai mã kiểm tra SHA-256 — tệp sao lưu bị hỏng hoặc bị sửa")
    return manifest


# -- restore --------------------------------------------------------------------------------


def database_rows(engine: Engine) -> dict[str, int]:
    """Rows per application table that holds recorded work (empty dict: nothing there yet)."""
    names = set(inspect(engine).get_table_names())
    counts = {}
    with engine.connect() as conn:
        for table in data_tables():
            if table.name in names and table.name not in REFERENCE_TABLES:
                n = conn.execute(select(func.count()).select_from(table)).scalar_one()
                if n:
                    counts[table.name] = n
    return counts


def store_is_empty(root: Path, keys: frozenset[Path] = frozenset()) -> bool:
    return not any(True for _ in _store_files(root, keys))


def _table_counts(engine: Engine, names: Iterable[str]) -> dict[str, int]:
    """Rows in each of ``names`` that is a table of ``engine`` (0 for one that is not)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(named_table(name))).scalar_one()
                if name in present else 0 for name in names}


def _mismatched(expected: dict[str, int], counts: dict[str, int]) -> list[str]:
    return [f"{name}: {counts.get(name, 0)} dòng, manifest ghi {n}" for name, n in expected.items()
            if name not in SKIP_TABLES and counts.get(name, 0) != n]


def _rows_from_sqlite(path: Path, expected: dict[str, int]
                      ) -> tuple[Engine, Iterator[tuple[Table, list[dict[str, Any]]]], dict[str, int]]:
    """The copy's rows at the head revision, and the row counts the restore must then find.

    An older backup is migrated first, which may move rows between tables
    (0017 folded ``learned_addresses`` into ``contacts``): the manifest is
    checked against the copy as it was backed up, and the upgraded copy's
    own counts are what the restore is checked against.
    """
    engine = create_engine(f"sqlite:///{path}")
    revision = current_revision(engine)
    head = head_revision()
    if revision != head:
        known = {r.revision for r in _script().walk_revisions()}
        if revision not in known:
            engine.dispose()
            raise BackupError(f"bản sao lưu ở phiên bản lược đồ {revision!r}, phiên bản này không biết: "
                              "khôi phục bằng phiên bản tdc-intake mới hơn")
        mismatched = _mismatched(expected, _table_counts(engine, expected))
        if mismatched:
            engine.dispose()
            raise BackupError("cơ sở dữ liệu trong bản sao lưu không khớp manifest: " + "; ".join(mismatched))
        upgrade(engine)  # an older backup: bring the copy up to date, never the original
        expected = _table_counts(engine, [t.name for t in data_tables()])

    def rows() -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        with engine.connect() as conn:
            for table in data_tables():
                order = list(table.primary_key.columns)
                batch: list[dict[str, Any]] = []
                for row in conn.execute(select(table).order_by(*order)).mappings():
                    batch.append(dict(row))
                    if len(batch) >= BATCH:
                        yield table, batch
                        batch = []
                yield table, batch

    return engine, rows(), expected


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(None))  # type: ignore[arg-type]


def _rows_from_jsonl(folder: Path, revision: str | None) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    if revision != head_revision():
        raise BackupError(f"bản sao lưu JSON ở phiên bản lược đồ {revision!r}, khác {head_revision()!r} "
                          "của phiên bản này: khôi phục bằng đúng phiên bản đã tạo ra nó, rồi nâng cấp")
    for table in data_tables():
        path = folder / f"{table.name}.jsonl"
        if not path.is_file():
            continue
        batch: list[dict[str, Any]] = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    batch.append(_decode_row(table, json.loads(line)))
                if len(batch) >= BATCH:
                    yield table, batch
                    batch = []
        yield table, batch


class PathRewriter:
    """Old store folder → new store folder, for the paths the database keeps."""

    def __init__(self, old_roots: list[str], new_root: str):
        self.old = sorted({r.rstrip("/") for r in old_roots if r}, key=len, reverse=True)
        self.new = new_root.rstrip("/")

    def __call__(self, value: str | None) -> str | None:
        if not value:
            return value
        for old in self.old:
            if value == old or value.startswith(old + "/"):
                return self.new + value[len(old):]
        return value

    def row(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        if table.name == "messages":
            row["raw_path"] = self(row.get("raw_path")) or ""
        elif table.name == "attachments":
            row["path"] = self(row.get("path")) or ""
        elif table.name == "outbox" and row.get("attachments"):
            row["attachments"] = [{**a, "path": self(a.get("path"))} if isinstance(a, dict) else a
                                  for a in row["attachments"]]
        return row


def _reset_sequences(conn: Any) -> None:
    """After inserting explicit ids, PostgreSQL's serial counters must move past them."""
    for table in data_tables():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].name == "id":
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 - our own table names
                f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 1), "
                f"(SELECT MAX(id) FROM \"{table.name}\") IS NOT NULL)"))


def _move_store(source: Path, target: Path, keys: frozenset[Path]) -> tuple[int, list[str]]:
    """Move the unpacked store into place; returns (files moved, signing keys left behind).

    A signing key in the archive (an older backup had one; a crafted one may)
    is never installed: the board keeps its own, or makes a new one.
    """
    count = 0
    skipped: list[str] = []
    if not source.is_dir():
        return 0, skipped
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        dest = target / path.relative_to(source)
        if dest.name in STORE_SKIP or dest.resolve() in keys:
            skipped.append(path.relative_to(source).as_posix())
            continue
        make_dirs(dest.parent)
        shutil.move(str(path), dest)
        os.chmod(dest, FILE_MODE)  # the store's own mode (unpacking wrote 0600)
        count += 1
    return count, skipped


def restore_backup(app: App, archive: Path, force: bool = False, limits: ArchiveLimits | None = None) -> RestoreResult:
    """Restore ``archive`` into the app's (empty) database and store folder."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"không có tệp {archive}")
    engine = app.db.engine
    store_root = app.store_root
    problems = []
    existing = database_rows(engine)
    if existing:
        existing_rows = ", ".join(f"{k}: {v}" for k, v in existing.items())
        problems.append("cơ sở dữ liệu đích đã có dữ liệu (" + existing_rows + ")")
    if not store_is_empty(store_root, signing_keys(app)):
        problems.append(f"thư mục lưu trữ {store_root} không trống")
    if problems and not force:
        raise BackupError("không khôi phục đè lên dữ liệu đang có: " + "; ".join(problems)
                          + ". Dùng cấu hình trỏ tới nơi trống, hoặc thêm --force để ghi đè")
    parent = store_root.resolve().parent
    make_dirs(parent)
    with tempfile.TemporaryDirectory(prefix=".tdc-restore-", dir=parent) as tmp_name:
        tmp = Path(tmp_name)
        manifest = extract_verified(archive, tmp, limits)
        db_info = manifest.get("database", {})
        source_engine: Engine | None = None
        expected: dict[str, int] = db_info.get("counts", {})
        if db_info.get("format") == "sqlite":
            source_engine, rows, expected = _rows_from_sqlite(tmp / SQLITE_MEMBER, expected)
        elif db_info.get("format") == "jsonl":
            rows = _rows_from_jsonl(tmp / TABLES_DIR, db_info.get("revision"))
        else:
            raise BackupError(f"{archive}: không rõ định dạng cơ sở dữ liệu {db_info.get('format')!r}")
        store = manifest.get("store", {})
        rewrite = PathRewriter([store.get("root", ""), store.get("root_resolved", "")], app.settings.storage.path)
        # Files first: every row restored below may point to them.
        make_dirs(store_root)
        files, keys_left = _move_store(tmp / STORE_DIR, store_root, signing_keys(app))
        upgrade(engine)
        counts: dict[str, int] = {}
        try:
            with engine.begin() as conn:
                conn.execute(delete(models.table_of(models.WebSession)))  # a restore logs everyone out
                for table in reversed(data_tables()):
                    conn.execute(delete(table))
                conn.execute(delete(models.table_of(models.Lease)))
                for table, batch in rows:
                    counts.setdefault(table.name, 0)
                    if batch:
                        rows_in = [stored_paths_inside(table.name, rewrite.row(table, r), store_root) for r in batch]
                        conn.execute(table.insert(), rows_in)
                        counts[table.name] += len(batch)
                held = hold_restored_outbox(conn)  # restored mail waits for a coordinator's release
                if engine.dialect.name == "postgresql":
                    _reset_sequences(conn)
        except UnsafeArchive as exc:
            raise BackupError(f"tệp sao lưu {archive} bị từ chối: {exc}; cơ sở dữ liệu không thay đổi") from None
        finally:
            if source_engine is not None:
                source_engine.dispose()
    mismatched = _mismatched(expected, counts)
    if mismatched:
        raise BackupError("số dòng khôi phục không khớp manifest: " + "; ".join(mismatched))
    notes = [f"{held} thư chưa gửi được giữ lại (suppressed): xem rồi cho gửi bằng `tdc-bot outbox release`"] \
        if held else []
    if keys_left:
        notes.append("khóa ký phiên của bảng theo dõi trong bản sao lưu không được cài ("
                     + ", ".join(keys_left) + "): bảng theo dõi dùng khóa của máy này")
    with app.db.sessions() as session:
        users = [u.email for u in accounts.list_users(session)]
    if users:
        notes.append(f"{len(users)} tài khoản bảng theo dõi được khôi phục: {', '.join(users)} — "
                     "kiểm tra bằng `tdc-bot users list`, xóa tài khoản lạ bằng `tdc-bot users remove`")
    return RestoreResult(counts=counts, files=files, revision=current_revision(engine), notes=notes)
