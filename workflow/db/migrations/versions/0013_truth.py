"""What the ledger needs to tell the truth: whose mail a message is, what a coordinator set aside, the
companion rows of a mail that carries two reports, and a return path per sent email.

messages.sender_agency: the roster agency the sender's address or domain belongs to (an agency's mail that is
not read as a report is listed for a coordinator until dismissed: dismissed_at, dismissed_by).
messages.delivery, links: how a report came (file, link, body, photos) and the links it named (never followed).
messages.part_of: a second report in the same mail (last year's file beside this year's) is recorded as its
own row pointing at the mail's row, so each file counts for its own year.
outbox.verp_token: the per-email return path (baocao+b-<token>@…): a bounce is matched by who was written to.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

import workflow.db.models

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('sender_agency', sa.String(length=80), nullable=True))
        batch.add_column(sa.Column('dismissed_at', workflow.db.models.UtcDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('dismissed_by', sa.String(length=120), nullable=True))
        batch.add_column(sa.Column('part_of', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('delivery', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('links', sa.JSON(), nullable=False, server_default='[]'))
        batch.create_index('ix_messages_sender_agency', ['sender_agency'])
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('verp_token', sa.String(length=40), nullable=True))
        batch.create_index('ix_outbox_verp_token', ['verp_token'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_verp_token')
        batch.drop_column('verp_token')
    with op.batch_alter_table('messages') as batch:
        batch.drop_index('ix_messages_sender_agency')
        batch.drop_column('links')
        batch.drop_column('delivery')
        batch.drop_column('part_of')
        batch.drop_column('dismissed_by')
        batch.drop_column('dismissed_at')
        batch.drop_column('sender_agency')
