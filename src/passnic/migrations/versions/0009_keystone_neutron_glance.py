"""keystone, neutron and glance conformance: long project names, unscoped tokens, project tags,
application credentials, network quotas and image members

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_projects") as batch:
        batch.alter_column("name", type_=sa.String(255), existing_nullable=False)
    op.create_table(
        "identity_project_tags",
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("identity_projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(255), primary_key=True),
    )
    op.create_table(
        "identity_application_credentials",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "user_id",
            sa.String(64),
            sa.ForeignKey("identity_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("identity_projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("unrestricted", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("user_id", "name"),
    )
    with op.batch_alter_table("identity_tokens") as batch:
        batch.alter_column("project_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("application_credential_id", sa.String(64), nullable=True))
        batch.create_foreign_key(
            "fk_identity_tokens_application_credential_id",
            "identity_application_credentials",
            ["application_credential_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_table(
        "network_quotas",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("network", sa.Integer(), nullable=True),
        sa.Column("subnet", sa.Integer(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
    )
    op.create_table(
        "image_members",
        sa.Column(
            "image_id",
            sa.String(36),
            sa.ForeignKey("image_images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("image_members")
    op.drop_table("network_quotas")
    with op.batch_alter_table("identity_tokens") as batch:
        batch.drop_constraint("fk_identity_tokens_application_credential_id", type_="foreignkey")
        batch.drop_column("application_credential_id")
        batch.alter_column("project_id", existing_type=sa.String(64), nullable=False)
    op.drop_table("identity_application_credentials")
    op.drop_table("identity_project_tags")
    with op.batch_alter_table("identity_projects") as batch:
        batch.alter_column("name", type_=sa.String(64), existing_nullable=False)
