"""An index for the reports that wait for a coordinator: status stays flat as the archive grows.

Why: the "awaiting review" counts of ``tdc-bot status``, the board and the digest
(``workflow.season.status_query``: kind = 'report', status = 'recorded',
submission_id IS NULL, for a year) had only ``ix_messages_status`` to go by,
which matches nearly every row: SQLite walked the whole archive for a handful
of unplaced reports. With the four columns in one index each of those lookups
is an equality on all four (the year last, so "this year or no year" still
uses the first three).

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_unplaced_reports', 'messages', ['kind', 'status', 'submission_id', 'year'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_unplaced_reports', table_name='messages')
