"""resize: the old flavor a migration reverts to

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 19:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("compute_migrations") as batch:
        batch.add_column(sa.Column("old_flavor", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_migrations") as batch:
        batch.drop_column("old_flavor")
