"""Strangers wait: their acknowledgements are held by an hourly cap, their attachments read after known senders'.

outbox.to_stranger marks an answer to a sender neither verified nor known; messages.reading_deferred
marks a stranger's message whose attachments are read after the cycle's known senders (issue 21 §5),
and messages.read_at when a message's reading was done (existing rows: when they were recorded).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import workflow.db.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('to_stranger', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('reading_deferred', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('read_at', workflow.db.models.UtcDateTime(timezone=True), nullable=True))
        batch.create_index('ix_messages_reading_deferred', ['reading_deferred'])
    op.execute("UPDATE messages SET read_at = recorded_at")


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_index('ix_messages_reading_deferred')
        batch.drop_column('read_at')
        batch.drop_column('reading_deferred')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('to_stranger')
