"""A runner asked to stop while it waits for messages takes none of what then arrives.

The wait for messages lasts up to a second; a message arriving meanwhile used to be claimed
and run by the stopping runner — with a process pool, the very invocation a sibling worker
had just rerouted on a second stop signal, which then ran twice.
"""

from __future__ import annotations

from typing import Any

from pynenc import InvocationStatus, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.runner import ThreadRunner
from tests.apps import core


def test_messages_received_after_a_stop_request_are_requeued_not_claimed(
    core_app: Pynenc,
) -> None:
    invocation = core.add(1, 2)
    runner = ThreadRunner(core_app, threads=1)
    real_consumer = core_app.broker.consumer

    def consumer(queues: list[str], prefetch: int) -> Any:
        made = real_consumer(queues, prefetch=prefetch)
        real_get = made.get

        def get(limit: int, timeout: float) -> Any:
            runner.stop_runner_loop()  # the stop arrives while the runner waits
            return real_get(limit, timeout)

        made.get = get
        return made

    core_app.broker.consumer = consumer  # type: ignore[method-assign]
    started: list[Envelope] = []
    try:
        runner.consume(1, lambda: 0 if runner.stopping else 1, started.append)
    finally:
        del core_app.broker.consumer
    assert started == []
    assert invocation.status is InvocationStatus.REGISTERED
    # still on the queue for another runner
    again = core_app.broker.consumer(["default"], prefetch=1)
    try:
        [delivery] = again.get(1, timeout=5)
        assert delivery.envelope is not None
        assert delivery.envelope.invocation_id == invocation.invocation_id
        delivery.requeue()
    finally:
        again.close()
