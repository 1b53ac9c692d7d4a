"""Deliveries: one unique (channel, key) index instead of a unique key and a channel index.

Recording a delivery wrote a page of each index into the write-ahead log; the channel
index only served per-channel reads, which (channel, key) serves as well, and the upsert
conflicts on it as it did on the key (the key starts with the channel). The table is
rebuilt (SQLite cannot drop a column's UNIQUE otherwise), keeping every row and its id,
so insertion order is kept. Frozen once released.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer, "sqlite")
COLUMNS = "id, key, channel, paper_id, at, status, message_id, day, kind"
PENDING = sa.text("status = 'pending'")


def _create(name: str, *, key_unique: bool) -> None:
    op.create_table(
        name,
        sa.Column("id", Serial, primary_key=True),
        sa.Column("key", sa.String, nullable=False, unique=key_unique),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("paper_id", sa.String, nullable=False),
        sa.Column("at", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("message_id", sa.String),
        sa.Column("day", sa.String),
        sa.Column("kind", sa.String, nullable=False),
    )


def _replace_with(name: str) -> None:
    """Copy every row into ``name``, then make it the deliveries table."""
    op.execute(f"INSERT INTO {name} ({COLUMNS}) SELECT {COLUMNS} FROM deliveries")
    op.drop_table("deliveries")
    op.rename_table(name, "deliveries")
    if op.get_bind().dialect.name == "postgresql":  # the copied ids: the sequence goes on
        op.execute(
            "SELECT setval(pg_get_serial_sequence('deliveries', 'id'), "
            "coalesce(max(id), 0) + 1, false) FROM deliveries"
        )


def upgrade() -> None:
    _create("deliveries_0002", key_unique=False)
    _replace_with("deliveries_0002")
    op.create_index("ux_deliveries_channel_key", "deliveries", ["channel", "key"], unique=True)
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["channel"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    _create("deliveries_0001", key_unique=True)
    _replace_with("deliveries_0001")
    op.create_index("ix_deliveries_channel", "deliveries", ["channel"])
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["channel"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
