"""The seat lock no longer needs a counter: meetings.registrations_version is dropped

Decisions on seats lock the meeting's row with SELECT ... FOR NO KEY UPDATE on PostgreSQL (and a
no-op UPDATE on SQLite) instead of bumping this counter, which nothing read.

Revision ID: bb282bbde7cf
Revises: 05fe599fcd38
Create Date: 2026-11-29 14:57:11.129649

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "bb282bbde7cf"
down_revision = "05fe599fcd38"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("registrations_version")


def downgrade():
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registrations_version", sa.INTEGER(), server_default="0", nullable=False))
