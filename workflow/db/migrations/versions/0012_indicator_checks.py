"""Each indicator row keeps its arithmetic checks as data (code + Vietnamese text), beside the findings.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('indicator_rows') as batch:
        batch.add_column(sa.Column('checks', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('indicator_rows') as batch:
        batch.drop_column('checks')
