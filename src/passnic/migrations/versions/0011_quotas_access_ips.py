"""compute quotas: the limits an admin set per project; a server's accessIPv4/v6

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("compute_servers") as batch:
        batch.add_column(sa.Column("access_ipv4", sa.String(64), nullable=True))
        batch.add_column(sa.Column("access_ipv6", sa.String(64), nullable=True))
    op.create_table(
        "compute_quotas",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("compute_quotas")
    with op.batch_alter_table("compute_servers") as batch:
        batch.drop_column("access_ipv6")
        batch.drop_column("access_ipv4")
