"""Web board users: coordinators who log in, with an Argon2 password hash.

Revision ID: 0007
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import workflow.db.models

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('password_hash', sa.String(length=300), nullable=False),
        sa.Column('created_at', workflow.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_login_at', workflow.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('email'),
    )


def downgrade() -> None:
    op.drop_table('users')
