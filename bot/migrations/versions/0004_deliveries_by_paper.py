"""Deliveries: an index on ``paper_id``, so a fan-out reads only the history of the
papers it may post (a day's candidates) instead of every channel's whole history (1.2
million rows at 10,000 channels x 60 days: 1.9 s and hundreds of MB per fan-out).
Frozen once released.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_paper", "deliveries", ["paper_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_paper", table_name="deliveries")
