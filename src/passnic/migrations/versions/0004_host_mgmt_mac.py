"""host mgmt_mac (host-add)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 15:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("i_host") as batch:
        batch.add_column(sa.Column("mgmt_mac", sa.String(length=17), nullable=True))
        batch.create_unique_constraint(op.f("uq_i_host_mgmt_mac"), ["mgmt_mac"])


def downgrade() -> None:
    with op.batch_alter_table("i_host") as batch:
        batch.drop_constraint(op.f("uq_i_host_mgmt_mac"), type_="unique")
        batch.drop_column("mgmt_mac")
