"""Platform adapters: each turns its platform's events into :class:`bot.replies.Request`
objects and renders :class:`bot.replies.Reply` objects within the platform's limits.
Only this package imports a platform SDK."""
