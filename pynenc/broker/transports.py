"""What the broker knows about each kombu transport, as data, selected by URL scheme.

kombu hides most differences between transports; the few that remain for pynenc — where
queues live, how (and whether) priorities order messages, who dead-letters a rejected
message, who keeps the unacked state, and safe default transport options — are declared
here once per scheme. A scheme missing from the table still works with the defaults of
:class:`TransportInfo` (no priorities, dead letters published by the client).

Importing this module registers ``sqlite://`` (:mod:`pynenc.broker.sqlite_transport`) in
kombu's transport alias table, which kombu keeps open to third parties.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from types import MappingProxyType
from typing import Any

import kombu.transport

from pynenc.conf.masking import masked_url, scheme_of
from pynenc.conf.urls import check_database_number, check_host_and_port, did_you_mean, url_error

kombu.transport.TRANSPORT_ALIASES.setdefault("sqlite", "pynenc.broker.sqlite_transport:Transport")

MAX_PRIORITY = 9


class PriorityOrder(enum.Enum):
    """How a transport orders the ``priority`` property of a message."""

    NONE = "none"  #: FIFO whatever the priority (kombu's memory transport)
    HIGH_FIRST = "high_first"  #: 9 before 0: AMQP, our sqlite transport
    LOW_FIRST = "low_first"  #: 0 before 9: kombu's Redis transport (its priority_steps)


@dataclass(frozen=True, slots=True)
class TransportInfo:
    """The broker-relevant traits of one transport."""

    #: Queues live in this process only (no other process can consume them).
    in_process: bool = False
    priority: PriorityOrder = PriorityOrder.NONE
    #: The server moves rejected messages to a dead-letter queue (AMQP's x-dead-letter-*);
    #: otherwise the client publishes them there itself.
    server_dead_letters: bool = False
    #: Unacked messages are tracked by the client's channel (kombu's virtual transports):
    #: after a lost connection the old channel must hand them back itself.
    client_acks: bool = True
    #: The server can confirm publishes (AMQP); pynenc then waits for them per batch
    #: when the ``confirm_publish`` transport option is on.
    publisher_confirms: bool = False
    #: One ack settles every earlier delivery of the channel too (AMQP's ``multiple``
    #: flag): a batch of deliveries is acked with one frame.
    multiple_acks: bool = False
    #: The kombu transport class to use instead of the scheme's own ("module:Class").
    transport_class: str | None = None
    #: The transport opens stored items itself with pynenc's bounds, and takes the
    #: ``max_message_bytes`` transport option (:class:`pynenc.broker.guard.GuardedChannel`).
    guarded_items: bool = False
    #: Transport options used unless ``broker.transport_options`` sets them.
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def wire_priority(self, priority: int | None) -> int | None:
        """The message property for a pynenc priority (0-9, higher first; ``None``: 0)."""
        if self.priority is PriorityOrder.LOW_FIRST:
            return MAX_PRIORITY - (priority or 0)
        if self.priority is PriorityOrder.HIGH_FIRST:
            return priority
        return None

    def queue_arguments(self, dead_letter_queue: str) -> dict[str, Any] | None:
        """Arguments declaring a pynenc queue (only AMQP servers need any)."""
        if not self.server_dead_letters:
            return None
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_queue,
        }
        if self.priority is PriorityOrder.HIGH_FIRST:
            arguments["x-max-priority"] = MAX_PRIORITY
        return arguments


_REDIS = TransportInfo(
    priority=PriorityOrder.LOW_FIRST,
    transport_class="pynenc.broker.redis_transport:Transport",
    guarded_items=True,
    defaults=MappingProxyType(
        {
            # Ack emulation off: kombu's bookkeeping of unacked messages costs two
            # MULTI/EXEC round trips per message and halves throughput. What it protects
            # (a message received by a runner that dies before its claim is recorded) is
            # covered by pynenc itself: the state backend still holds the invocation and
            # the services runner publishes it again after ``runner.redeliver_after``.
            # Turn it on (transport_options) to have kombu redeliver after
            # ``visibility_timeout`` instead.
            "ack_emulation": False,
            "visibility_timeout": 300,
            # One Redis list per level, so all ten levels order exactly (kombu's default
            # [0, 3, 6, 9] folds them into four buckets).
            "priority_steps": list(range(MAX_PRIORITY + 1)),
            # Without a socket timeout a publish to a server that vanished without closing
            # the TCP connection would wait forever.
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
        }
    ),
)
_AMQP = TransportInfo(
    priority=PriorityOrder.HIGH_FIRST,
    transport_class="pynenc.broker.amqp_transport:Transport",
    server_dead_letters=True,
    client_acks=False,
    publisher_confirms=True,
    multiple_acks=True,
    # Publisher confirms are off by default: a confirm costs a round trip (~1 ms) per
    # single publish. A message lost between publish and the queue (a broker dying at
    # that instant) is published again by pynenc after ``runner.redeliver_after``, since
    # the invocation is registered first. With ``confirm_publish: true`` a publish returns
    # only once the server has it, and pynenc waits once per batch (confirms.py).
    defaults=MappingProxyType({"confirm_publish": False}),
)

#: Traits by URL scheme (as kombu spells its transport aliases).
TRANSPORTS: Mapping[str, TransportInfo] = MappingProxyType(
    {
        "memory": TransportInfo(in_process=True),
        "sqlite": TransportInfo(priority=PriorityOrder.HIGH_FIRST, guarded_items=True),
        "redis": _REDIS,
        "rediss": _REDIS,
        # kombu's sentinel channel: its items are not guarded (see the README)
        "sentinel": replace(_REDIS, transport_class=None, guarded_items=False),
        "amqp": _AMQP,
        "amqps": replace(_AMQP, transport_class="pynenc.broker.amqp_transport:SSLTransport"),
        "pyamqp": _AMQP,
    }
)

_GENERIC = TransportInfo()


def transport_info(url: str) -> TransportInfo:
    return TRANSPORTS.get(scheme_of(url), _GENERIC)


#: Schemes whose URLs name a server (a host, maybe a port).
_SERVER_SCHEMES = frozenset({"redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp"})


def broker_url_forms() -> str:
    """The broker URLs that work, for error messages."""
    others = sorted(set(kombu.transport.TRANSPORT_ALIASES) - set(TRANSPORTS))
    return (
        "memory://, sqlite:///relative.db or sqlite:////absolute/path.db, "
        "redis://[:password@]host[:port][/db] (rediss:// for TLS), "
        "amqp://[user:password@]host[:port][/vhost], or another kombu transport: "
        + ", ".join(f"{name}://" for name in others)
    )


def check_broker_url(url: str) -> None:
    """Refuse a ``broker_url`` kombu cannot use, saying why (:class:`ConfigError`).

    Checks the scheme against kombu's transports, and the host, port (and Redis database)
    of server URLs; each URL of kombu's failover form ``url1;url2`` is checked.
    """
    for part in (piece.strip() for piece in url.split(";")):
        if "://" not in part:
            raise url_error("broker_url", url, "it is not a URL (no '://')", broker_url_forms())
        head = part.split("://", 1)[0]
        scheme = scheme_of(part)
        # kombu takes no import path from a URL (its scheme never picks a module to import)
        if scheme not in kombu.transport.TRANSPORT_ALIASES:
            raise url_error(
                "broker_url",
                url,
                f"scheme {scheme!r} is not a kombu transport"
                f"{did_you_mean(scheme, kombu.transport.TRANSPORT_ALIASES)}",
                broker_url_forms(),
            )
        if "+" in head:
            continue  # kombu's transport+URL form: the inner URL is the transport's own
        if scheme in _SERVER_SCHEMES:
            check_host_and_port("broker_url", part, broker_url_forms())
        if scheme in ("redis", "rediss"):
            check_database_number("broker_url", part, broker_url_forms())
        if scheme == "sqlite":
            from pynenc.broker.sqlite_transport import database_path

            try:
                database_path(part)
            except ValueError as exc:
                raise url_error("broker_url", url, str(exc), broker_url_forms()) from None


def load_transport(url: str, transport_class: str | None) -> kombu.Connection:
    """A kombu connection to ``url`` (not connected) whose transport class is loaded.

    kombu imports a transport's client library only when the transport is first used; a
    missing one (``sqs://`` without boto3, ``mongodb://`` without pymongo) raises whatever
    that transport module raises — ``ImportError``, and even ``NameError`` or ``TypeError``
    from some of them. Loading it here turns all of them into one :class:`ConfigError`
    naming ``broker_url`` and the package to install.
    """
    try:
        connection = kombu.Connection(url, transport=transport_class)
        _ = connection.transport  # loads and instantiates the transport: no connection yet
    except Exception as exc:  # any failure of kombu's transport import: reported, not hidden
        scheme = scheme_of(url.split(";")[0].strip())
        detail = str(exc).replace(url, masked_url(url))
        raise url_error(
            "broker_url",
            url,
            f"kombu's {scheme!r} transport cannot be loaded ({type(exc).__name__}: "
            f"{detail}){_install_hint(scheme)}",
            broker_url_forms(),
        ) from exc
    return connection


def _install_hint(scheme: str) -> str:
    """``; install its client library: pip install 'kombu[sqs]'`` when kombu has an extra."""
    target = kombu.transport.TRANSPORT_ALIASES.get(scheme, "")
    module = target.split(":")[0].removeprefix("kombu.transport.").split(".")[0].lower()
    try:
        extras = metadata.metadata("kombu").get_all("Provides-Extra") or []
    except metadata.PackageNotFoundError:
        extras = []
    if module in extras:
        return f"; install its client library: pip install 'kombu[{module}]'"
    return "; install the client library this kombu transport needs"
