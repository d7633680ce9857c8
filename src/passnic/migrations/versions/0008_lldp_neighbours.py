"""inventory: the LLDP neighbour each port hears (sysinv's lldp_neighbours)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lldp_neighbours",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column(
            "host_uuid",
            sa.String(36),
            sa.ForeignKey("i_host.uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "port_uuid",
            sa.String(36),
            sa.ForeignKey("ethernet_ports.uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("chassis_id", sa.String(255), nullable=False),
        sa.Column("port_identifier", sa.String(255), nullable=False),
        sa.Column("system_name", sa.String(255), nullable=False),
        sa.Column("system_description", sa.String(255), nullable=False),
        sa.Column("port_description", sa.String(255), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("port_uuid", name="uq_lldp_neighbours_port_uuid"),
    )


def downgrade() -> None:
    op.drop_table("lldp_neighbours")
