"""The contact book: contacts per agency, answers to reminders, Cc on outgoing mail.

Learned addresses (``learned_addresses``, taught by ``assign``) are copied
into the book as confirmed contacts of source ``learned``; the old table
stays, and both feed the roster's address lookup.

Revision ID: 0005
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import workflow.db.models

revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_slug', sa.String(length=80), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=60), nullable=False),
    sa.Column('unit', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('from_year', sa.Integer(), nullable=True),
    sa.Column('until_year', sa.Integer(), nullable=True),
    sa.Column('carried_from', sa.String(length=80), nullable=True),
    sa.Column('failing', sa.Boolean(), nullable=False),
    sa.Column('last_bounce_at', workflow.db.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('bounce_reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', workflow.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', workflow.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agency_slug', 'email', name='uq_contact_agency_email')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_agency_slug'), ['agency_slug'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_email'), ['email'], unique=False)

    op.create_table('reminder_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('agency_slug', sa.String(length=80), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('addresses', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', workflow.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('reminder_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_responses_agency_slug'), ['agency_slug'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_responses_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_responses_outbox_id'), ['outbox_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cc', sa.JSON(), nullable=True))

    # Addresses coordinators taught by `assign` become learned, confirmed contacts.
    op.execute(
        "INSERT INTO contacts (agency_slug, email, name, role, phone, unit, source, confirmed, failing, "
        "created_by, created_at, updated_at) "
        "SELECT agency_slug, address, '', '', '', '', 'learned', TRUE, FALSE, taught_by, created_at, created_at "
        "FROM learned_addresses"
    )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('cc')
    with op.batch_alter_table('reminder_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_responses_outbox_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_responses_at'))
        batch_op.drop_index(batch_op.f('ix_reminder_responses_agency_slug'))
    op.drop_table('reminder_responses')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_email'))
        batch_op.drop_index(batch_op.f('ix_contacts_agency_slug'))
    op.drop_table('contacts')
