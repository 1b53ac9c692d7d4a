"""The initial state schema: meta, channels, topics, deliveries, feedback.

The same records state.json held (3cff8ee), one row each. Frozen: a later change to
bot/state_db.py's tables gets a new revision, never an edit here.

Revision ID: 0001
Revises:
Create Date: 2026-06-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.JSON),
    )
    op.create_table(
        "channels",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("key", sa.String, nullable=False, unique=True),
        sa.Column("platform", sa.String, nullable=False),
        sa.Column("workspace", sa.String, nullable=False),
        sa.Column("channel_id", sa.String, nullable=False),
        sa.Column("post_time", sa.String, nullable=False),
        sa.Column("timezone", sa.String, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("max_papers", sa.Integer, nullable=False),
        sa.Column("min_upvotes", sa.Integer, nullable=False),
        sa.Column("skip_weekends", sa.Boolean, nullable=False),
        sa.Column("pause_reason", sa.String),
        sa.Column("last_error", sa.String),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_post_date", sa.String),
        sa.Column("last_post_at", sa.String),
        sa.Column("created_at", sa.String),
        sa.Column("not_before", sa.String),
        sa.Column("retry_at", sa.String),
        sa.Column("daily", sa.Boolean, nullable=False),
        sa.Column("weekly_day", sa.Integer),
        sa.Column("weekly_time", sa.String, nullable=False),
        sa.Column("last_weekly_date", sa.String),
        sa.Column("thread_mode", sa.Boolean, nullable=False),
    )
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("query", sa.String, nullable=False),
        sa.Column("added_by", sa.String, nullable=False),
        sa.Column("added_at", sa.String, nullable=False),
        sa.Column("alert_upvotes", sa.Integer),
    )
    op.create_index("ix_topics_channel", "topics", ["channel"])
    op.create_table(
        "deliveries",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("key", sa.String, nullable=False, unique=True),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("paper_id", sa.String, nullable=False),
        sa.Column("at", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("message_id", sa.String),
        sa.Column("day", sa.String),
        sa.Column("kind", sa.String, nullable=False),
    )
    op.create_index("ix_deliveries_channel", "deliveries", ["channel"])
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["channel"],
        sqlite_where=pending,
        postgresql_where=pending,
    )
    op.create_table(
        "feedback",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("key", sa.String, nullable=False, unique=True),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("paper_id", sa.String, nullable=False),
        sa.Column("user", sa.String, nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("at", sa.String, nullable=False),
    )
    op.create_index("ix_feedback_channel", "feedback", ["channel"])


def downgrade() -> None:
    for table in ("feedback", "deliveries", "topics", "channels", "meta"):
        op.drop_table(table)
