"""fabric: save the switch configuration, resolved alarms, encrypted credentials, the test
switch's new name

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00.000000

Clear-text passwords are encrypted by the controller on start (it holds the key file), not here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fabric_switches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("save_config", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.alter_column(
            "password", existing_type=sa.String(length=255), type_=sa.String(length=1024)
        )
    with op.batch_alter_table("fabric_alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE fabric_switches SET driver = 'soft' WHERE driver = 'lab'")


def downgrade() -> None:
    op.execute("UPDATE fabric_switches SET driver = 'lab' WHERE driver = 'soft'")
    with op.batch_alter_table("fabric_alarms", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
    with op.batch_alter_table("fabric_switches", schema=None) as batch_op:
        batch_op.alter_column(
            "password", existing_type=sa.String(length=1024), type_=sa.String(length=255)
        )
        batch_op.drop_column("save_config")
