"""A fingerprint of each message's raw header fields and body: a re-delivery is known before it is parsed.

Revision ID: 0010
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('raw_fingerprint', sa.String(length=64), nullable=True))
        batch.create_index('ix_messages_raw_fingerprint', ['raw_fingerprint'])


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_index('ix_messages_raw_fingerprint')
        batch.drop_column('raw_fingerprint')
