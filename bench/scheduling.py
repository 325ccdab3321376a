"""Scheduling lateness: how long after its due time a delayed invocation starts.

``python -m bench.scheduling [--transport redis|sqlite|embedded] [-n 200] [--min-delay 0.1]
[--max-delay 2] [--runner ThreadRunner] [--threads 8] [--rounds 3] [--interval 0]`` calls
a task ``n`` times with random delays (seeded), each call on its own (all at once, or
``--interval`` seconds apart), then reads back each invocation's
due time (stored on the record), when the scheduler published it (the history's
REGISTERED entry) and when its body started (the task returns ``time.time()``; callers and
runners share the machine's clock). It prints the percentiles of due → published,
published → started and due → started (the lateness), and how many started early (must
be 0). The runner is one process (``--runner``/``--threads``) started like the bench's
other pynenc runners; on ``embedded`` a ThreadRunner in this process.

Separate from ``make bench``: its measurements are not changed by this script.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.procs import WorkerProcess, python_argv, running_server
from bench.tasks_scheduling import started_at
from pynenc import InvocationStatus, Pynenc

RUNNER_CODE = "import bench.tasks_scheduling as m; m.app.runner.run()"


@contextlib.contextmanager
def deployment(args: argparse.Namespace, logs: Path) -> Iterator[Any]:
    """The caller's ``started_at`` task, with a runner consuming it."""
    app_id = f"sched-bench-{uuid.uuid4().hex[:6]}"
    settings = {
        "app_id": app_id,
        "runner": {"threads": args.threads, "scheduler_poll": args.scheduler_poll},
    }
    with contextlib.ExitStack() as stack:
        if args.transport == "embedded":
            caller = Pynenc(config_values=settings)
            task = caller.task(started_at.func)
            stack.enter_context(caller.running_in_background())
            yield task
            return
        if args.transport == "redis":
            url = stack.enter_context(running_server("redis"))
            broker, state = url, url
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="sched-bench-"))
            broker, state = f"sqlite:///{folder}/broker.db", f"sqlite:///{folder}/state.db"
        caller = Pynenc(
            config_values={**settings, "broker_url": broker, "state_backend_url": state}
        )
        task = caller.task(started_at.func)
        env = {
            "PYNENC__APP_ID": app_id,
            "PYNENC__BROKER_URL": broker,
            "PYNENC__STATE_BACKEND_URL": state,
            "PYNENC__RUNNER_CLS": args.runner,
            "PYNENC__RUNNER__THREADS": str(args.threads),
            "PYNENC__RUNNER__PROCESSES": "1",
            "PYNENC__RUNNER__SCHEDULER_POLL": str(args.scheduler_poll),
        }
        worker = WorkerProcess("scheduling-runner", python_argv("-c", RUNNER_CODE), env, logs)
        worker.start()
        stack.callback(worker.stop, 10)
        deadline = time.monotonic() + 60
        while True:  # ready once it runs a task
            worker.check_alive()
            try:
                task(0).get_result(timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        yield task


def measure(
    task: Any, n: int, low: float, high: float, seed: int, interval: float = 0.0
) -> dict[str, list[float]]:
    """Call ``task`` ``n`` times with delays in [low, high], ``interval`` seconds apart;
    seconds, per invocation, of due → published, published → started, due → started."""
    rng = random.Random(seed)
    invocations = []
    for i in range(n):
        invocations.append(task.with_options(delay=rng.uniform(low, high))(i))
        if interval:
            time.sleep(interval)  # sparse calls: the scheduler idles between them
    starts = [invocation.get_result(timeout=high + 120) for invocation in invocations]
    backend = task.app.state_backend
    records = backend.get_many([invocation.invocation_id for invocation in invocations])
    found: dict[str, list[float]] = {"published": [], "picked up": [], "lateness": []}
    for invocation, record, start in zip(invocations, records, starts, strict=True):
        assert record is not None and record.due is not None
        history = backend.history(invocation.invocation_id)
        published = next(e.timestamp for e in history if e.status is InvocationStatus.REGISTERED)
        found["published"].append(published - record.due)
        found["picked up"].append(start - published)
        found["lateness"].append(start - record.due)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"  {name:<10} p50 {percentile(ms, 50):7.1f} ms   p90 {percentile(ms, 90):7.1f} ms   "
        f"p99 {percentile(ms, 99):7.1f} ms   max {max(ms):7.1f} ms   "
        f"mean {statistics.fmean(ms):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduling", description=__doc__)
    parser.add_argument("--transport", choices=("redis", "sqlite", "embedded"), default="redis")
    parser.add_argument("-n", type=int, default=200, help="invocations per round")
    parser.add_argument("--min-delay", type=float, default=0.1)
    parser.add_argument("--max-delay", type=float, default=2.0)
    parser.add_argument("--runner", default="ThreadRunner")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--scheduler-poll", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--interval", type=float, default=0.0, help="seconds between calls (0: all at once)"
    )
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="sched-bench-logs-"))
    totals: dict[str, list[float]] = {}
    with deployment(args, logs) as task:
        for round_ in range(args.rounds):
            found = measure(
                task, args.n, args.min_delay, args.max_delay, args.seed + round_, args.interval
            )
            early = sum(1 for v in found["lateness"] if v < 0)
            print(f"round {round_ + 1}: {args.n} invocations, {early} started early")
            print(report("lateness", found["lateness"]))
            for name, values in found.items():
                totals.setdefault(name, []).extend(values)
    print(
        f"\n{args.transport}, {args.runner} ({args.threads} threads), delays "
        f"{args.min_delay}-{args.max_delay} s, scheduler_poll {args.scheduler_poll} s, "
        f"{len(totals['lateness'])} invocations:"
    )
    for name, values in totals.items():
        print(report(name, values))
    print(f"  started early: {sum(1 for v in totals['lateness'] if v < 0)}")
    print(f"(runner logs in {logs})")


if __name__ == "__main__":
    main()
