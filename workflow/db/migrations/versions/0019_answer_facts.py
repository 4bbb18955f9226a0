"""Whom an answer to a message goes to, kept when it is recorded.

messages.speaker (the person the mail speaks for: the sharer named in a file
service's share notice, else the From address) and messages.from_device (sent
by the office copier or an e-office robot on an agency's behalf, so answers go
to the agency's people, never the device) are written from intake's reading
at record time. An acknowledgement queued later — a coordinator placing the
report, a resent ack — then answers the same people the recording would
have, without reading the raw file. Existing rows keep NULL; for them
workflow.season.stored_mail reads the header block of the raw file, the
legacy path of 0018.

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('speaker', sa.String(length=320), nullable=True))
        batch.add_column(sa.Column('from_device', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('from_device')
        batch.drop_column('speaker')
