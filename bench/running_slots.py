"""How soon a held-back invocation starts once a running slot is released.

``python -m bench.running_slots`` (defaults: ``--calls 40 --keys 2 --seconds 0.05
--processes 2 --backend redis``) starts ``--processes`` ``pynenc runner start`` processes
(ThreadRunner, 4 threads each) and calls a task with ``running_concurrency=KEYS`` (one run
per key at a time, ``bench/tasks_rate.py: one_per_key``) ``--calls`` times over ``--keys``
keys at once. The task stamps its start and end; the bench prints, per run after the first
of its key, the **hand-off**: from the end of the previous run of the key to this start
(p50/p90/max), the most runs of one key seen at once (must be 1) and the total time against
the ideal (``calls / keys * seconds``). ``runner.concurrency_recheck`` is set to 600 s, so
every hand-off is a release's wake-up (release → publish → claim → admission → start).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench.measure import Unavailable
from bench.procs import WorkerProcess, python_argv
from bench.rate_limit import backend_urls


def handoffs(lines: Sequence[str]) -> tuple[list[float], int]:
    """(seconds from each end to the next start of its key, the most runs of a key at once)."""
    per_key: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for line in lines:
        event, at, key = line.split()
        per_key[key].append((float(at), 1 if event == "start" else -1))
    gaps: list[float] = []
    most = 0
    for moves in per_key.values():
        moves.sort()
        running, last_end = 0, None
        for at, delta in moves:
            running += delta
            most = max(most, running)
            if delta < 0:
                last_end = at
            elif last_end is not None:
                gaps.append(at - last_end)
    return gaps, most


def measure(urls: tuple[str, str], args: argparse.Namespace, logs: Path) -> None:
    from bench import tasks_rate

    env = {
        "PYNENC__BROKER_URL": urls[0],
        "PYNENC__STATE_BACKEND_URL": urls[1],
        "PYNENC__APP_ID": tasks_rate.app.app_id,
        "PYNENC__RUNNER__CONCURRENCY_RECHECK": "600",
    }
    argv = python_argv("-m", "pynenc", "--app", "bench.tasks_rate:app", "runner", "start")
    runners = [
        WorkerProcess(f"slots{i}", [*argv, "--threads", "4"], env, logs)
        for i in range(args.processes)
    ]
    app = tasks_rate.app
    app.conf.broker_url, app.conf.state_backend_url = urls
    app.purge()
    stamps = logs / "slot-stamps"
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 60
        while len(app.state_backend.runners()) < args.processes:
            for runner in runners:
                runner.check_alive()
            if time.monotonic() > deadline:
                raise Unavailable("the runners did not all start within 60 s")
            time.sleep(0.1)
        begin = time.perf_counter()
        calls = [
            tasks_rate.one_per_key(str(stamps), f"k{i % args.keys}", args.seconds)
            for i in range(args.calls)
        ]
        for call in calls:
            call.get_result(timeout=600)
        took = time.perf_counter() - begin
    finally:
        for runner in runners:
            runner.stop(grace=10)
    gaps, most = handoffs(stamps.read_text().splitlines())
    gaps.sort()
    ideal = args.calls / args.keys * args.seconds
    print(
        f"{args.calls} calls over {args.keys} keys, {args.seconds * 1000:.0f} ms each, "
        f"{args.processes} runner processes, {args.backend}: most runs of a key at once: "
        f"{most}; took {took:.2f} s (ideal {ideal:.2f} s)"
    )
    print(
        f"  hand-off (end of a run -> next start of its key): p50 "
        f"{statistics.median(gaps) * 1000:.1f} ms, p90 {gaps[int(len(gaps) * 0.9)] * 1000:.1f} "
        f"ms, max {gaps[-1] * 1000:.1f} ms ({len(gaps)} hand-offs)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=0.05)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--backend", choices=["redis", "sqlite"], default="redis")
    args = parser.parse_args(argv)
    os.environ.setdefault("BENCH_RATE_LIMIT", "20/s")
    with tempfile.TemporaryDirectory() as tmp, backend_urls(args.backend, Path(tmp)) as urls:
        try:
            measure(urls, args, Path(tmp))
        except Unavailable as exc:
            print(f"not available: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
