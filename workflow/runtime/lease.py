"""A leader lease in the database, so that two daemons never both send.

A row (name, holder, expires_at). The holder renews it before it expires;
anyone may take it once it has expired. Taking and renewing are single
conditional UPDATEs (or an INSERT that the primary key makes exclusive), so
the database decides the race the same way on SQLite and PostgreSQL.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError

from workflow.db import models
from workflow.db.engine import Database, rows_changed


def make_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, db: Database, name: str, holder: str, ttl: timedelta):
        self.db = db
        self.name = name
        self.holder = holder
        self.ttl = ttl

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; True when this process holds it until now + ttl."""
        expires = now + self.ttl
        with self.db.transaction() as session:
            result = session.execute(
                update(models.Lease)
                .where(models.Lease.name == self.name,
                       or_(models.Lease.holder == self.holder, models.Lease.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
            )
            if rows_changed(result):
                return True
        try:
            with self.db.transaction() as session:
                if session.get(models.Lease, self.name) is not None:
                    return False
                session.add(models.Lease(name=self.name, holder=self.holder, expires_at=expires))
            return True
        except IntegrityError:
            return False

    def release(self) -> None:
        with self.db.transaction() as session:
            session.execute(delete(models.Lease).where(models.Lease.name == self.name,
                                                       models.Lease.holder == self.holder))
