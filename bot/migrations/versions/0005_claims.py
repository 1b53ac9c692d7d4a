"""Claims (issue 17): which worker is posting to a channel, until when.

Several ``papers-bot run`` workers on one PostgreSQL database divide the due channels
between them: a channel's row is free (no ``claimed_by``, a lapsed ``lease_until``) or held
by a worker until ``lease_until``; a worker takes free and lapsed rows under ``FOR UPDATE
SKIP LOCKED`` before posting, renews them while it posts and frees them when done, so a
killed worker's rows lapse. On SQLite (one process) the table stays empty.

Frozen once released.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("channel", sa.String, primary_key=True),
        sa.Column("claimed_by", sa.String, nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("claims")
