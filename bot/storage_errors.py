"""The one error every storage module raises, kept apart so that each can import it.

:mod:`bot.store` (the corpus in TinyDB) and :mod:`bot.state_db` (the bot state in SQL) both
raise it; callers catch it from :mod:`bot.store`, which re-exports it.
"""

from __future__ import annotations


class StorageError(Exception):
    """A data file cannot be used. The message names the file and what is wrong."""
