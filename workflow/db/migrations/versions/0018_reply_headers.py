"""What an answer and the national report need of a message, kept when it is recorded.

messages.reply_to (the first Reply-To addresses), messages.references (the
References' message ids) and messages.body_text (the readable body of mail
that may be placed as a report) are written from intake's reading at record
time, so acknowledgements and the consolidated report never parse the raw
file again. Existing rows keep NULL: nothing is read here (a migration must
not parse years of senders' mail); for them workflow.season.stored_mail reads
the raw file as before, the legacy path.

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('reply_to', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('references', sa.Text(), nullable=True))
        batch.add_column(sa.Column('body_text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('body_text')
        batch.drop_column('references')
        batch.drop_column('reply_to')
