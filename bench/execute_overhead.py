"""The CPU cost of one no-op ``execute()``: what a runner's worker spends per invocation
besides the task, on the memory state backend (no broker, no network).

``python -m bench.execute_overhead [--rounds 31] [--per-round 3000] [--hooks]`` claims
``--per-round`` invocations of ``noop``, executes them one after another through an
``OutcomeWriter`` (as a ThreadRunner's worker does) and prints the median and minimum of
the rounds in µs of thread CPU time (wall time is too noisy on a shared machine). With
``--hooks`` every other round runs with a no-op ``run_start`` and ``run_end`` handler, to
show what a handler costs. Compare branches by running it on each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.tasks_embedded import app, noop
from pynenc.broker.envelope import Envelope
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord
from pynenc.runner.execution import execute
from pynenc.runner.outcomes import OutcomeWriter

RUNNER = "bench-execute"


def _claimed(count: int) -> list[Envelope]:
    key = noop.task_id.key
    records = [InvocationRecord(new_invocation_id(), key, {}) for _ in range(count)]
    app.state_backend.register(records, time.time())
    envelopes = [Envelope(r.invocation_id, key, {}, app.conf.serializer) for r in records]
    assert not any(app.orchestrator.claim_each(envelopes, RUNNER))
    return envelopes


def _round(count: int, writer: OutcomeWriter) -> float:
    """µs of CPU per execute() over ``count`` invocations."""
    envelopes = _claimed(count)
    start = time.thread_time()
    for envelope in envelopes:
        execute(app, envelope, RUNNER, writer)
    return (time.thread_time() - start) / count * 1e6


def _no_op(*args: Any) -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--per-round", type=int, default=3000)
    parser.add_argument("--hooks", action="store_true", help="also time rounds with 2 handlers")
    args = parser.parse_args()
    writer = OutcomeWriter(app.orchestrator)
    _round(args.per_round, writer)  # warm-up
    plain: list[float] = []
    hooked: list[float] = []
    for _ in range(args.rounds):
        plain.append(_round(args.per_round, writer))
        if args.hooks:
            app.hooks.connect("run_start", _no_op)
            app.hooks.connect("run_end", _no_op)
            try:
                hooked.append(_round(args.per_round, writer))
            finally:
                app.hooks.clear()
        app.state_backend.purge()
    for label, figures in (("no handler", plain), ("2 no-op handlers", hooked)):
        if figures:
            print(
                f"execute(), {label}: median {statistics.median(figures):.2f} µs, "
                f"min {min(figures):.2f} µs CPU per invocation ({len(figures)} rounds)"
            )


if __name__ == "__main__":
    main()
