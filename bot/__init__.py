"""papers-bot: trending research papers where research groups already talk.

The package is platform-neutral: nothing under ``bot`` imports Slack or Discord.
Adapters in ``adapters`` turn platform events into :class:`bot.replies.Request`
objects and render the :class:`bot.replies.Reply` objects the core returns.
"""

__version__ = "0.1.0"
