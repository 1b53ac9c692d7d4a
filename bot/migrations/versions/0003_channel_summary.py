"""Channels: a ``summary`` setting (how much of a summary cards show: short, long or off).

Existing channels get ``short``, the default of new channels (issue 16: cards people scan
at a glance). Frozen once released.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("summary", sa.String, nullable=False, server_default="short"))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("summary")
