"""Sender identity: messages.content_sha256 (duplicate deliveries) and messages.sender_auth (verification).

Revision ID: 0003
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sender_auth', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_content_sha256'), ['content_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_content_sha256'))
        batch_op.drop_column('sender_auth')
        batch_op.drop_column('content_sha256')
