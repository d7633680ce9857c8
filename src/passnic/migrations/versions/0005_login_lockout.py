"""login lockout: failed sign-ins per user

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_users") as batch:
        batch.add_column(
            sa.Column("failed_auth_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("failed_auth_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_users") as batch:
        batch.drop_column("failed_auth_at")
        batch.drop_column("failed_auth_count")
