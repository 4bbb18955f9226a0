"""One table of addresses an agency may be trusted by: ``learned_addresses`` folds into the contact book.

Why: since 0005 every address ``assign`` taught was written twice, once in
``learned_addresses`` and once as a ``learned`` contact, and the roster trusted
the union. The two could disagree (a contact removed, then taught again by a
later ``assign``, lived on only in the old table), so the book is now the
only place.

Each learned row becomes a confirmed ``learned`` contact of its agency, kept
as who taught it (``created_by``) and when (``created_at``). A row whose
address is already a contact of the same agency adds nothing; when that
contact is not confirmed (removed, then taught again by ``assign``; or carried
over) it is confirmed, because the learned row made the address trusted and
reminded, and it stays so; the audit log records that confirmation as the
teacher's, at the time it was taught. The downgrade rebuilds the table from
the confirmed ``learned`` contacts (one agency per address, the newest);
``taught_by`` is then the contact's ``created_by``.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

import workflow.db.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Already a contact of that agency but not trusted (a removed tombstone, until_year = 0, or carried over):
    # confirmed, and the audit log says by whom and when, as `contacts confirm` would.
    op.execute(
        "INSERT INTO audit_log (at, actor, action, agency_slug, reason) "
        "SELECT learned_addresses.created_at, learned_addresses.taught_by, 'contact_confirmed', "
        "contacts.agency_slug, contacts.email || ' (' || contacts.source || '); địa chỉ đã học bằng assign, "
        "xác nhận lại khi gộp vào danh bạ' "
        "FROM learned_addresses JOIN contacts ON learned_addresses.address = contacts.email "
        "AND learned_addresses.agency_slug = contacts.agency_slug WHERE contacts.confirmed = FALSE"
    )
    op.execute(
        "UPDATE contacts SET confirmed = TRUE, "
        "until_year = CASE WHEN until_year = 0 THEN NULL ELSE until_year END, "
        "updated_at = (SELECT l.created_at FROM learned_addresses l "
        "WHERE l.address = contacts.email AND l.agency_slug = contacts.agency_slug) "
        "WHERE confirmed = FALSE AND EXISTS (SELECT 1 FROM learned_addresses l "
        "WHERE l.address = contacts.email AND l.agency_slug = contacts.agency_slug)"
    )
    op.execute(
        "INSERT INTO contacts (agency_slug, email, name, role, phone, unit, source, confirmed, failing, "
        "created_by, created_at, updated_at) "
        "SELECT l.agency_slug, l.address, '', '', '', '', 'learned', TRUE, FALSE, l.taught_by, l.created_at, "
        "l.created_at FROM learned_addresses l WHERE NOT EXISTS "
        "(SELECT 1 FROM contacts c WHERE c.agency_slug = l.agency_slug AND c.email = l.address)"
    )
    op.drop_table('learned_addresses')


def downgrade() -> None:
    op.create_table('learned_addresses',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('agency_slug', sa.String(length=80), nullable=False),
    sa.Column('taught_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', workflow.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address')
    )
    # One agency per address there: the latest confirmed learned contact (what the roster trusted last).
    op.execute(
        "INSERT INTO learned_addresses (address, agency_slug, taught_by, created_at) "
        "SELECT c.email, c.agency_slug, c.created_by, c.created_at FROM contacts c "
        "WHERE c.source = 'learned' AND c.confirmed = TRUE AND NOT EXISTS "
        "(SELECT 1 FROM contacts d WHERE d.email = c.email AND d.source = 'learned' AND d.confirmed = TRUE "
        "AND (d.created_at > c.created_at OR (d.created_at = c.created_at AND d.id > c.id)))"
    )
