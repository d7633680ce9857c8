"""placement index kept current: inventory revision, numbered host changes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_revision")),
    )
    op.create_table(
        "placement_host_changes",
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hostname", name=op.f("pk_placement_host_changes")),
    )
    op.create_index(
        op.f("ix_placement_host_changes_seq"), "placement_host_changes", ["seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_placement_host_changes_seq"), table_name="placement_host_changes")
    op.drop_table("placement_host_changes")
    op.drop_table("inventory_revision")
