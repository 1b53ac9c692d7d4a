"""What every adapter offers the core: start, stop, and post a reply to a channel.

The scheduler posts digests through :meth:`Adapter.post`; an adapter raises
:class:`PermanentDeliveryError` when the platform says the channel is gone or closed to
us (retrying will not help) and :class:`DeliveryError` for anything worth retrying later.
The definitions live in :mod:`bot.delivery` so the core never imports this package.
"""

from bot.delivery import Adapter, DeliveryError, PermanentDeliveryError

__all__ = ["Adapter", "DeliveryError", "PermanentDeliveryError"]
