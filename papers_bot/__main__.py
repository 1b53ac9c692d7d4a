"""``python -m papers_bot`` is the same as the ``papers-bot`` console script."""

from papers_bot.cli import main

if __name__ == "__main__":  # not when a helper process (bot.embeddings) imports it
    raise SystemExit(main())
