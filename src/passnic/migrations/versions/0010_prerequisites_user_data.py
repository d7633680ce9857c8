"""real guests: a host's passthrough prerequisites, a server's user_data

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("i_host") as batch:
        batch.add_column(sa.Column("prerequisites", sa.JSON(), nullable=True))
    with op.batch_alter_table("compute_servers") as batch:
        batch.add_column(sa.Column("user_data", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_servers") as batch:
        batch.drop_column("user_data")
    with op.batch_alter_table("i_host") as batch:
        batch.drop_column("prerequisites")
