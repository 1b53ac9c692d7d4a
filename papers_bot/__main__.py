"""``python -m papers_bot`` is the same as the ``papers-bot`` console script."""

from papers_bot.cli import main

raise SystemExit(main())
