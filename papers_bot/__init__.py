"""papers-bot's composition root: the one place that knows which platforms and sources exist.

``bot/`` is the platform-neutral core and ``adapters/`` the platforms; this package puts
them together. :mod:`papers_bot.plugins` lists the platforms and sources (the only list),
:mod:`papers_bot.cli` is the ``papers-bot`` command (``python -m papers_bot``) and
:mod:`papers_bot.run` runs the enabled platforms and the scheduler.
"""
