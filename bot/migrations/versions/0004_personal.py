"""The personal layer (issue 15): reading lists, who manages a channel, alert mentions.

- ``saved``: one row per paper on a person's reading list (``/papers save``), keyed by
  ``user|paper_id`` so saving twice keeps one row; listed newest first by ``id``.
- ``channels.managed_by``: the user who last changed a channel's settings, told when its
  posts pause after repeated failures; ``channels.notice``: the last such notice sent, so
  each is sent once.
- ``topics.notify``: the opt-in mention an alert carries (``--notify``).

Frozen once released.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("key", sa.String, nullable=False, unique=True),
        sa.Column("user", sa.String, nullable=False),
        sa.Column("paper_id", sa.String, nullable=False),
        sa.Column("at", sa.String, nullable=False),
        sa.Column("channel", sa.String),
    )
    op.create_index("ix_saved_user", "saved", ["user"])
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("managed_by", sa.String))
        batch.add_column(sa.Column("notice", sa.String))
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("notify", sa.String))


def downgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("notify")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("notice")
        batch.drop_column("managed_by")
    op.drop_index("ix_saved_user", "saved")
    op.drop_table("saved")
