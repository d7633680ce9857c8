"""compute conformance: key pairs, server groups, a server's key, description, tags and lock

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPS = (
    ("created_at", sa.DateTime(timezone=True), False),
    ("updated_at", sa.DateTime(timezone=True), True),
)


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column(name, kind, nullable=nullable) for name, kind, nullable in TIMESTAMPS]


def upgrade() -> None:
    with op.batch_alter_table("compute_servers") as batch:
        batch.add_column(sa.Column("key_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("locked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("locked_reason", sa.Text(), nullable=True))
    op.create_table(
        "compute_keypairs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("user_id", "name", name="uq_compute_keypairs_user_id_name"),
    )
    op.create_table(
        "compute_server_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "compute_server_group_members",
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("compute_server_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("server_id", sa.String(36), primary_key=True, unique=True),
    )


def downgrade() -> None:
    op.drop_table("compute_server_group_members")
    op.drop_table("compute_server_groups")
    op.drop_table("compute_keypairs")
    with op.batch_alter_table("compute_servers") as batch:
        for column in ("locked_reason", "locked", "tags", "description", "key_name"):
            batch.drop_column(column)
