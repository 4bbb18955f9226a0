"""audit_log.message_id indexed: recording a re-delivered message costs the same on a ten-year audit log.

Why: each extra delivery of a known message writes one audit line, unless the
same delivery (its raw hash) was already written down; that check looked up
``audit_log`` by message and, without an index, read the whole log once per
re-delivered message (``workflow.season.submissions._record_duplicate_delivery``).

Revision ID: 0016
Revises: 0015
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_audit_log_message_id'), 'audit_log', ['message_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_log_message_id'), table_name='audit_log')
