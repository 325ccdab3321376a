"""The floor under a call that registers its record before it publishes.

``python -m bench.register_floor [--calls 8000] [--rounds 3]`` starts a RabbitMQ server (the
broker) and a Redis server (the state backend), as ``make bench`` does for its rabbitmq
transport, and measures, in interleaved rounds, how many one-way calls per second complete
when each call does only:

- ``publish``: one persistent kombu publish of a ~200-byte message (raw kombu, the
  ``bench.kombu_peer`` consumer subprocess acks it);
- ``register``: pynenc's state backend ``register`` of one record (the same script and
  round trip a pynenc call makes), then that same publish;
- ``pynenc``: ``noop()`` through pynenc (a runner subprocess with 8 threads, as in
  ``make bench``), the results waited for after each batch of 500.

A call counts as complete when the consumer has acked it (``publish``, ``register``) or its
result is stored (``pynenc``). ``register`` is what any design costs that keeps the state
backend's guarantee, the record exists before the message can be consumed: one state round
trip, then one broker round trip, per call, and a consumer that does nothing else. Nothing
pynenc does can go faster than it on the same servers; the report prints each variant's
rate, its share of that floor and the CPU each process spent per call (µs).

With Redis as the broker too there is no such floor to measure: kombu's Redis transport
consumes slower than pynenc's own Redis path (``make bench``), and pynenc there sends the
record and the message in one round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench import tasks_pynenc
from bench.hotpath import cpu_by_role, on_servers, workload
from bench.kombu_peer import KombuClient
from bench.procs import WorkerProcess, python_argv, running_server
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord
from pynenc.state_backend.base import StateBackend

VARIANTS = ("publish", "register", "pynenc")
#: a call's message reaches the consumer in this long or the run fails (not a measurement)
TIMEOUT = 120.0


class Floor:
    """Publishes one-way calls to a raw kombu consumer, registering each first if asked."""

    def __init__(self, broker_url: str, backend: StateBackend, logs: Path) -> None:
        self.queue = f"bench.floor.{uuid.uuid4().hex[:8]}"
        self.client = KombuClient(broker_url, self.queue)
        self.backend = backend
        argv = python_argv("-m", "bench.kombu_peer", broker_url, self.queue)
        self.peer = WorkerProcess("floor-consumer", argv, {}, logs)
        self.peer.start()

    @property
    def pid(self) -> int:
        assert self.peer.process is not None
        return self.peer.process.pid

    def run(self, calls: int, register: bool) -> None:
        """Publish ``calls`` messages of one batch; return when the consumer acked them all."""
        batch = uuid.uuid4().hex
        task_id = tasks_pynenc.noop.task_id.key
        for _ in range(calls):
            invocation_id = new_invocation_id()
            if register:
                record = InvocationRecord(invocation_id, task_id, {})
                self.backend.register([record], time.time())
            self.client.publish({"id": invocation_id, "batch": batch, "total": calls})
        self.client.wait(1, time.monotonic() + TIMEOUT)  # the consumer's batch reply
        self.client.clear()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.peer.stop(10)


def measure(
    run: Callable[[int], object], calls: int, processes: dict[str, int]
) -> tuple[float, dict[str, float]]:
    """Calls per second of ``run(calls)`` and the CPU µs per call of each process (by role)."""
    (runner,) = [pid for role, pid in processes.items() if role == "runner"]
    idle = [pid for role, pid in processes.items() if role == "idle"]
    before = cpu_by_role([runner], idle)
    start = time.perf_counter()
    run(calls)
    seconds = time.perf_counter() - start
    used: Counter[str] = cpu_by_role([runner], idle) - before
    return calls / seconds, {role: s / calls * 1e6 for role, s in used.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.register_floor", description=__doc__)
    parser.add_argument("--calls", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="register-floor-"))
    rates: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    cpu: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    with contextlib.ExitStack() as stack:
        state_url = stack.enter_context(running_server("redis"))
        broker_url = stack.enter_context(running_server("rabbitmq"))
        tasks, (runner,) = stack.enter_context(on_servers(broker_url, state_url, logs))
        backend = tasks.noop.app.state_backend
        floor = Floor(broker_url, backend, logs)
        stack.callback(floor.close)
        runs: dict[str, tuple[Callable[[int], object], dict[str, int]]] = {
            "publish": (
                lambda n: floor.run(n, register=False),
                {"runner": floor.pid, "idle": runner},
            ),
            "register": (
                lambda n: floor.run(n, register=True),
                {"runner": floor.pid, "idle": runner},
            ),
            "pynenc": (
                lambda n: workload(tasks, "throughput", n, 1),
                {"runner": runner, "idle": floor.pid},
            ),
        }
        for call, _ in runs.values():  # warm-up: connections, scripts, imports
            call(500)
        for round_ in range(args.rounds):
            order = VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]
            for variant in order:
                backend.purge()
                call, processes = runs[variant]
                rate, used = measure(call, args.calls, processes)
                rates[variant].append(rate)
                cpu[variant].append(used)
    shutil.rmtree(logs, ignore_errors=True)
    report(args, rates, cpu)


def report(
    args: argparse.Namespace, rates: dict[str, list[float]], cpu: dict[str, list[dict[str, float]]]
) -> None:
    floor = statistics.median(rates["register"])
    print(
        f"broker rabbitmq, state backend redis: {args.calls} calls x {args.rounds} rounds"
        " (medians; CPU µs per call by process, 'runner' = the consumer)"
    )
    for variant in VARIANTS:
        rate = statistics.median(rates[variant])
        roles = sorted({role for used in cpu[variant] for role in used})
        parts = [
            f"{role} {statistics.median(u.get(role, 0.0) for u in cpu[variant]):,.0f}"
            for role in roles
        ]
        total = statistics.median(sum(u.values()) for u in cpu[variant])
        print(
            f"  {variant:<9} {rate:8,.0f}/s  {rate / floor:5.2f}x the register floor"
            f"  | CPU {', '.join(parts)}; total {total:,.0f}"
        )


if __name__ == "__main__":
    main()
