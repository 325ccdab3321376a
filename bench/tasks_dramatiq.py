"""dramatiq broker, result backend and actors of the bench.

``make_tasks`` builds a broker for a transport (``RedisBroker`` on ``redis://``,
``RabbitmqBroker`` on ``amqp://``) with dramatiq's default middleware plus ``Results`` (a
``RedisBackend`` on the transport's Redis) and ``GroupCallbacks`` (its barrier on the same
Redis), and declares the bench's actors on it: the caller side, one per transport block.
The worker subprocess runs ``python -m dramatiq bench.tasks_dramatiq:setup``; ``setup`` reads
``BENCH_DRAMATIQ_BROKER_URL`` and ``BENCH_DRAMATIQ_REDIS_URL`` and makes the same broker
the global one. Actor names and the queue are the same on both sides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RedisBarrierBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

#: how long results stay in Redis (dramatiq's default is 10 minutes; a slow run must not
#: lose a result it still waits for)
RESULT_TTL_MS = 3_600_000
#: the result keys' prefix (``use_namespace_prefix_keys``, so that ``reset`` can find them)
RESULTS_NAMESPACE = "bench-dramatiq-results"
#: the one queue of every actor (dramatiq's default name)
QUEUE = "default"

BROKER_ENV = "BENCH_DRAMATIQ_BROKER_URL"
REDIS_ENV = "BENCH_DRAMATIQ_REDIS_URL"


@dataclass(frozen=True)
class DramatiqTasks:
    """One dramatiq broker, its result backend and the bench's actors (untyped)."""

    broker: dramatiq.Broker
    backend: RedisBackend
    noop: Any
    echo: Any
    inc: Any
    #: a chord's body ``total_of(chord_id, size)``: sums the results of the chord's ``echo``
    #: members (made by :func:`echo_member`)
    total_of: Any
    #: where ``GroupCallbacks`` keeps a group's barrier
    barrier: RedisBarrierBackend

    def redis_clients(self) -> list[Any]:
        """The Redis clients this side holds (broker on redis://, results, barriers)."""
        clients = [self.backend.client, self.barrier.client]
        if isinstance(self.broker, RedisBroker):
            clients.append(self.broker.client)
        return clients


def pika_url(url: str) -> str:
    """``url`` with kombu's ``//`` (the default vhost ``/``) spelt as pika reads it."""
    return url[:-2] + "/%2F" if url.endswith("//") else url


def make_broker(broker_url: str) -> dramatiq.Broker:
    """dramatiq's broker for a kombu-style URL (Redis or RabbitMQ), default middleware."""
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisBroker(url=broker_url)
    if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return RabbitmqBroker(url=pika_url(broker_url.replace("pyamqp://", "amqp://", 1)))
    raise ValueError(
        f"dramatiq has no broker for {broker_url.split('://')[0]}:// in the bench "
        "(use a redis:// or amqp:// URL)"
    )


def make_tasks(broker_url: str, redis_url: str) -> DramatiqTasks:
    """A fresh broker on ``broker_url`` with results in Redis at ``redis_url``, and the
    bench's actors declared on it."""
    broker = make_broker(broker_url)
    backend = RedisBackend(
        url=redis_url, namespace=RESULTS_NAMESPACE, use_namespace_prefix_keys=True
    )
    # Results before GroupCallbacks: a member's result is stored before the barrier counts
    # it, so a chord's body finds every result
    broker.add_middleware(Results(backend=backend, result_ttl=RESULT_TTL_MS))
    barrier = RedisBarrierBackend(url=redis_url)
    broker.add_middleware(GroupCallbacks(barrier))

    def declare(fn: Any) -> Any:
        return dramatiq.actor(
            fn,
            actor_name=f"bench.{fn.__name__}",
            queue_name=QUEUE,
            broker=broker,
            store_results=True,
        )

    def noop() -> None:
        return None

    def echo(x: int) -> int:
        return x

    def inc(x: int) -> int:
        return x + 1

    echo_actor = declare(echo)

    def total_of(chord_id: str, size: int) -> int:
        # dramatiq hands a group's completion callback no results: the body reads them
        return sum(backend.get_result(echo_member(echo_actor, chord_id, i)) for i in range(size))

    return DramatiqTasks(
        broker, backend, declare(noop), echo_actor, declare(inc), declare(total_of), barrier
    )


def echo_member(echo: Any, chord_id: str, i: int) -> dramatiq.Message[Any]:
    """Member ``i`` of chord ``chord_id``: ``echo(i)`` with a message id the body can rebuild
    (the result backend keys results by message id). Giving the body every member's id
    instead would put them all in every member's message (dramatiq copies the callback
    into each member): quadratic in the chord's size."""
    message: dramatiq.Message[Any] = echo.message(i)
    return message.copy(message_id=f"{chord_id}.{i}")


def setup() -> None:
    """The worker's entry (``dramatiq bench.tasks_dramatiq:setup``): the broker named by the
    environment becomes dramatiq's global broker, with the actors declared on it."""
    missing = [name for name in (BROKER_ENV, REDIS_ENV) if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"bench.tasks_dramatiq.setup: set {' and '.join(missing)}")
    tasks = make_tasks(os.environ[BROKER_ENV], os.environ[REDIS_ENV])
    dramatiq.set_broker(tasks.broker)
