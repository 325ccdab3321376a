"""AMQP publisher confirms per batch: publish every message, then wait for all confirms.

pyamqp's own ``confirm_publish`` waits for the server after each message, which costs a
server round trip (and, for persistent messages, a disk flush) per message: ~1 ms on
loopback, a fifth of the unconfirmed rate. A batch here pays that wait once.

RabbitMQ numbers confirms 1, 2, … in publish order on a channel once ``confirm.select``
is sent; an ack with ``multiple`` set covers every tag up to its own.
"""

from __future__ import annotations

from typing import Any

CONFIRM_TIMEOUT = 30.0


class PublishNotConfirmed(ConnectionError):
    """The server refused (nacked) a message: worth publishing again."""


class Confirmer:
    """Counts the publishes of one channel and waits for their confirms."""

    def __init__(self, channel: Any) -> None:
        # Confirms reach these handlers through the channel's events. ``Channel.wait``
        # would take only one per call and drop a second one read in the same frame batch.
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.confirm_select()
        self.channel = channel
        self._sent = 0
        self._unconfirmed: set[int] = set()
        self._refused = 0

    def published(self) -> None:
        self._sent += 1
        self._unconfirmed.add(self._sent)

    def wait(self, timeout: float = CONFIRM_TIMEOUT) -> None:
        """Return once the server confirmed every message published so far."""
        while self._unconfirmed:
            self.channel.connection.drain_events(timeout=timeout)
        refused, self._refused = self._refused, 0
        if refused:
            raise PublishNotConfirmed(f"The broker refused {refused} message(s)")

    def _settle(self, delivery_tag: int, multiple: bool) -> int:
        if multiple:
            settled = {tag for tag in self._unconfirmed if tag <= delivery_tag}
        else:
            settled = {delivery_tag} & self._unconfirmed
        self._unconfirmed -= settled
        return len(settled)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._refused += self._settle(delivery_tag, multiple)
