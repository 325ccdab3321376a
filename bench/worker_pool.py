"""``python -m bench.worker_pool``: throughput and round trip of a PersistentProcessRunner.

A runner subprocess (``pynenc runner start --runner PersistentProcessRunner --processes
P``) on a loopback Redis server; this process enqueues ``--tasks`` no-ops and waits for all
(tasks/s, from the first call to the last result), with and without a soft limit on the
task, then times ``--calls`` sequential ``echo(i).get_result()`` (p50 ms). ``--rounds``
rounds; the median is printed. Compare two versions of pynenc by running this script with
each on ``PYTHONPATH`` (the runner subprocess inherits it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import tasks_pool
from tests.servers import RedisServer, require_binary


def _throughput(task: object, n: int) -> float:
    began = time.perf_counter()
    invocations = [task() for _ in range(n)]  # type: ignore[operator]
    for invocation in invocations:
        invocation.get_result(timeout=300)
    return n / (time.perf_counter() - began)


def _roundtrip(n: int) -> float:
    latencies = []
    for i in range(n):
        began = time.perf_counter()
        assert tasks_pool.echo(i).get_result(timeout=60) == i
        latencies.append(time.perf_counter() - began)
    return statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = RedisServer(require_binary("redis-server"))
    server.start()
    app = tasks_pool.app
    app.conf.broker_url = app.conf.state_backend_url = server.url
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    env.update(PYNENC__BROKER_URL=server.url, PYNENC__STATE_BACKEND_URL=server.url)
    argv = [sys.executable, "-m", "pynenc", "--app", "bench.tasks_pool:app", "runner", "start"]
    argv += ["--runner", "PersistentProcessRunner", "--processes", str(args.processes)]
    figures: dict[str, list[float]] = {"noop": [], "noop_soft": [], "roundtrip": []}
    with tempfile.TemporaryFile() as log:
        runner = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        try:
            app.purge()
            tasks_pool.echo(0).get_result(timeout=120)  # the workers are up
            for _ in range(args.rounds):
                figures["noop"].append(_throughput(tasks_pool.noop, args.tasks))
                figures["noop_soft"].append(_throughput(tasks_pool.noop_soft, args.tasks))
                figures["roundtrip"].append(_roundtrip(args.calls))
        finally:
            runner.terminate()
            runner.wait(60)
            server.stop()
            server.cleanup()
    import pynenc

    print(f"pynenc from {Path(pynenc.__file__).parent}; {args.processes} worker processes")
    print(f"  throughput noop       {statistics.median(figures['noop']):8.0f} tasks/s")
    print(f"  throughput soft limit {statistics.median(figures['noop_soft']):8.0f} tasks/s")
    print(f"  roundtrip p50         {statistics.median(figures['roundtrip']):8.2f} ms")


if __name__ == "__main__":
    main()
