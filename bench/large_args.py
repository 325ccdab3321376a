"""Large arguments with and without the client data store, on Redis.

``python -m bench.large_args [--size-mb 20] [--calls 100] [--threads 8]`` starts two Redis
servers of its own (one broker, one state backend, so the bytes of each are counted apart)
and a ThreadRunner subprocess, then, for each way of calling (``parallelize`` with the
argument in ``common_args``, and plain calls) and with the store off and on, sends one
argument of ``--size-mb`` MB to ``--calls`` invocations and waits for every result.

It reports the time until the calls were registered and published, the time until every
result was in, and the bytes each server received (``total_net_input_bytes``: what callers
and the runner wrote) and sent (``total_net_output_bytes``: what was read). Each case uses
fresh content (no cache helps it) and ends with a purge. Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import tasks_large
from bench.procs import WorkerProcess, python_argv, running_server, wait_ready

RUNNER_CODE = "import bench.tasks_large as m; m.app.runner.run()"
MB = 1024 * 1024


@dataclass
class Case:
    how: str  #: "parallelize" or "calls"
    store: bool
    publish_s: float = 0.0
    done_s: float = 0.0
    state_in: int = 0
    state_out: int = 0
    broker_in: int = 0
    broker_out: int = 0
    error: str = ""


def _stats(url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        info: dict[str, Any] = client.info("stats")
    finally:
        client.close()
    return {k: int(info[k]) for k in ("total_net_input_bytes", "total_net_output_bytes")}


def run_case(case: Case, app: Any, broker: str, state: str, size: int, calls: int) -> None:
    app.conf.client_data_store.enabled = case.store
    data = uuid.uuid4().hex + "x" * (size - 32)  # new content: no cache has it
    before_b, before_s = _stats(broker), _stats(state)
    start = time.perf_counter()
    try:
        if case.how == "parallelize":
            group = tasks_large.measure.parallelize(
                [{"index": i} for i in range(calls)], common_args={"data": data}
            )
            case.publish_s = time.perf_counter() - start
            results = list(group.results)
        else:
            invocations = [tasks_large.measure(data, i) for i in range(calls)]
            case.publish_s = time.perf_counter() - start
            results = [invocation.get_result(timeout=900) for invocation in invocations]
        case.done_s = time.perf_counter() - start
        assert results == [size + i for i in range(calls)], "wrong results"
    except Exception as exc:
        case.error = f"{type(exc).__name__}: {str(exc)[:160]}"
    after_b, after_s = _stats(broker), _stats(state)
    case.broker_in = after_b["total_net_input_bytes"] - before_b["total_net_input_bytes"]
    case.broker_out = after_b["total_net_output_bytes"] - before_b["total_net_output_bytes"]
    case.state_in = after_s["total_net_input_bytes"] - before_s["total_net_input_bytes"]
    case.state_out = after_s["total_net_output_bytes"] - before_s["total_net_output_bytes"]
    app.purge()


@contextlib.contextmanager
def deployment(threads: int, logs: Path) -> Iterator[tuple[Any, str, str]]:
    with running_server("redis") as broker, running_server("redis") as state:
        app_id = f"large-{uuid.uuid4().hex[:6]}"
        env = {
            "PYNENC__APP_ID": app_id,
            "PYNENC__BROKER_URL": broker,
            "PYNENC__STATE_BACKEND_URL": state,
            "PYNENC__RUNNER__THREADS": str(threads),
        }
        for name, value in env.items():
            os.environ[name] = value
        app = tasks_large.app
        app.conf.update(app_id=app_id, broker_url=broker, state_backend_url=state)
        app.reset_components()
        worker = WorkerProcess("large-args-runner", python_argv("-c", RUNNER_CODE), env, logs)
        worker.start()
        try:
            wait_ready(lambda: tasks_large.measure("ping", 0).get_result(timeout=2), worker, 60)
            yield app, broker, state
        finally:
            worker.stop(30)


def _mb(count: int) -> str:
    return f"{count / MB:9.1f}"


def report(cases: list[Case], size: int, calls: int, threads: int) -> str:
    batch = tasks_large.measure.conf.parallel_batch_size
    lines = [
        f"{calls} calls sharing one {size / MB:.0f} MB argument; Redis broker + Redis state; "
        f"ThreadRunner, {threads} threads; parallel_batch_size {batch}",
        f"{'how':<12} {'store':<5} {'publish s':>9} {'all done s':>10} {'state in MB':>11} "
        f"{'state out MB':>12} {'broker in MB':>12} {'broker out MB':>13}",
    ]
    for c in cases:
        row = f"{c.how:<12} {'on' if c.store else 'off':<5} "
        row += f"{c.publish_s:9.2f} {c.done_s:10.2f} " if not c.error else f"{'-':>9} {'-':>10} "
        row += f"{_mb(c.state_in):>11} {_mb(c.state_out):>12} {_mb(c.broker_in):>12} "
        row += f"{_mb(c.broker_out):>13}"
        lines.append(row + (f"  FAILED {c.error}" if c.error else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.large_args", description=__doc__)
    parser.add_argument("--size-mb", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--cases", default="parallelize,calls", help="comma-separated")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="parallel_batch_size (default: the task's)"
    )
    args = parser.parse_args()
    if args.batch_size is not None:
        task = tasks_large.measure
        task.conf = dataclasses.replace(task.conf, parallel_batch_size=args.batch_size)
    size = int(args.size_mb * MB)
    logs = Path(tempfile.mkdtemp(prefix="large-args-"))
    cases = [Case(how, store) for how in args.cases.split(",") for store in (False, True)]
    with deployment(args.threads, logs) as (app, broker, state):
        for case in cases:
            run_case(case, app, broker, state, size, args.calls)
            print(report([case], size, args.calls, args.threads).splitlines()[-1], flush=True)
    print()
    print(report(cases, size, args.calls, args.threads))


if __name__ == "__main__":
    main()
