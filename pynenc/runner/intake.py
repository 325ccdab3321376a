"""How a runner's consumer loop takes messages: one at a time when idle, in batches under load.

A runner claims everything it takes in one state-backend call and acks it with one broker
frame where the transport allows (AMQP's ``multiple`` ack); per task, a batch of eight costs
a fraction of eight batches of one. But it never takes more than it has free slots for (a
message it holds is one other runners cannot run), and with short tasks a slot frees up
soon after it was filled: left alone, a loaded runner claims one or two messages per call.

:class:`Intake` therefore lingers, briefly, when work is queueing up: when more messages
are waiting in its prefetch than slots are free, it waits up to :data:`CLAIM_LINGER` for
more slots before claiming, and takes them all. It never waits when a slot is free for
every message it has (an idle runner, a round trip): no latency is added there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pynenc.broker import BrokerConsumer, Delivery

#: Under load, how long the loop waits for more free slots before claiming what it has: a
#: short task frees its slot well within it; a long one is started at most this late.
CLAIM_LINGER = 0.002


class Intake:
    """Takes deliveries from ``consumer`` for a runner's consumer loop.

    :param more_slots: ``more_slots(n, timeout)`` waits up to ``timeout`` s until ``n``
        slots are free and returns how many are (0: stopping); ``None``: never linger.
    :param poll: longest :meth:`take` waits for a first message.
    """

    def __init__(
        self,
        consumer: BrokerConsumer,
        prefetch: int,
        more_slots: Callable[[int, float], int] | None,
        poll: float,
        linger: float = CLAIM_LINGER,
    ) -> None:
        self.consumer = consumer
        self.poll = poll
        self.prefetch = prefetch
        self.more_slots = more_slots
        self.linger = linger

    def take(self, free: int) -> list[Delivery]:
        """Up to ``free`` deliveries (waiting up to ``poll`` s for a first one);
        more when further messages wait and slots free up within the linger."""
        consumer = self.consumer
        deliveries = consumer.get(free, self.poll)
        if self.more_slots is None or len(deliveries) < free or not consumer.waiting:
            return deliveries
        # more received than slots are free: work is queueing up
        wanted = min(self.prefetch, free + consumer.waiting)
        now_free = self.more_slots(wanted, self.linger)
        if now_free > len(deliveries):
            deliveries += consumer.get(now_free - len(deliveries), 0.0)
        return deliveries
