"""How exactly a global ``rate_limit`` holds across several processes.

``python -m bench.rate_limit`` (defaults: ``--rate 20/s --tasks 200 --processes 4
--backend redis``) measures two things and prints, for each, the achieved rate and the
most starts seen in any 1-second window (the limit allows ``count`` per ``period``):

- ``primitive``: the state backend's ``take_rate`` alone, from 4 processes: each asks for
  a start, sleeps until its reserved time when it has to wait, and records the time the
  start was granted at (what the limit counts) and the time it got the answer (a round
  trip and any scheduling delay later). This is what every runner does at a claim,
  without the runner around it.
- ``runners``: 4 ``pynenc runner start`` processes (ThreadRunner, 4 threads each) running
  a task with ``rate_limit`` (``bench/tasks_rate.py``), called in one ``parallelize``;
  every start is stamped by the task itself, so the figures include everything between
  the runner's admission and the body starting.

Needs ``redis-server`` for ``--backend redis`` (started on a free loopback port).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.measure import Unavailable
from bench.procs import WorkerProcess, python_argv, running_server
from pynenc.conf.rate import RateLimit, rate_limit
from pynenc.state_backend import create_state_backend

#: Starts closer than a second by less than this count as a second apart: 20 starts spaced
#: exactly 50 ms put the 21st at 1.0 s, which float sums may land a hair below.
TOLERANCE = 1e-6


def max_in_window(starts: Sequence[float], window: float) -> int:
    """The most starts in any window ``[t, t + window)`` (to ``TOLERANCE``)."""
    ordered = sorted(starts)
    best, first = 0, 0
    for last, start in enumerate(ordered):
        while ordered[first] <= start - window + TOLERANCE:
            first += 1
        best = max(best, last - first + 1)
    return best


def summary(name: str, starts: Sequence[float], limit: RateLimit) -> dict[str, Any]:
    """The figures of one measurement: achieved rate, busiest window, gaps."""
    ordered = sorted(starts)
    span = ordered[-1] - ordered[0]
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return {
        "measure": name,
        "starts": len(ordered),
        "achieved_per_s": (len(ordered) - 1) / span if span > 0 else float("inf"),
        "limit_per_s": limit.count / limit.period,
        "max_in_1s": max_in_window(ordered, 1.0),
        "allowed_in_1s": limit.count / limit.period,
        "gap_p50_ms": statistics.median(gaps) * 1000 if gaps else 0.0,
        "gap_min_ms": min(gaps) * 1000 if gaps else 0.0,
    }


# -- the primitive ---------------------------------------------------------------------------


def _take_starts(url: str, app_id: str, interval: float, count: int, out: Any) -> None:
    backend = create_state_backend(url, app_id)
    granted, observed = [], []
    for _ in range(count):
        holder = uuid.uuid4().hex
        now = time.time()
        wait = backend.take_rate("bench.rate", holder, interval, now)
        while wait > 0:  # sleep until the reserved start; asking again uses it
            time.sleep(wait)
            now = time.time()
            wait = backend.take_rate("bench.rate", holder, interval, now)
        granted.append(now)  # the time the backend counted the start at
        observed.append(time.time())  # when this process could act on it
    out.put((granted, observed))
    backend.close()


def measure_primitive(
    url: str, limit: RateLimit, tasks: int, processes: int
) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    out, app_id = ctx.Queue(), f"bench-rate-{uuid.uuid4().hex[:8]}"
    per = [tasks // processes + (i < tasks % processes) for i in range(processes)]
    children = [
        ctx.Process(target=_take_starts, args=(url, app_id, limit.interval, n, out)) for n in per
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=tasks * limit.interval * 5 + 60) for _ in children]
    for child in children:
        child.join(30)
    create_state_backend(url, app_id).purge()
    granted = [t for g, _ in results for t in g]
    observed = [t for _, o in results for t in o]
    return [
        summary("take_rate: starts granted", granted, limit),
        summary("take_rate: starts seen by callers", observed, limit),
    ]


# -- real runners ----------------------------------------------------------------------------


def measure_runners(
    urls: tuple[str, str],
    limit: RateLimit,
    tasks: int,
    processes: int,
    logs: Path,
    body: float = 0.0,
) -> list[dict[str, Any]]:
    os.environ["BENCH_RATE_LIMIT"] = str(limit)
    from bench import tasks_rate

    broker_url, state_url = urls
    env = {
        "PYNENC__BROKER_URL": broker_url,
        "PYNENC__STATE_BACKEND_URL": state_url,
        "PYNENC__APP_ID": tasks_rate.app.app_id,
        "BENCH_RATE_LIMIT": str(limit),
    }
    argv = python_argv("-m", "pynenc", "--app", "bench.tasks_rate:app", "runner", "start")
    runners = [
        WorkerProcess(f"runner{i}", [*argv, "--threads", "4"], env, logs) for i in range(processes)
    ]
    app = tasks_rate.app
    app.conf.broker_url, app.conf.state_backend_url = urls
    app.purge()
    stamps = logs / "stamps"
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 60
        while len(app.state_backend.runners()) < processes:
            for runner in runners:
                runner.check_alive()
            if time.monotonic() > deadline:
                raise Unavailable("the runners did not all start within 60 s")
            time.sleep(0.1)
        group = tasks_rate.stamp.parallelize([(str(stamps), body)] * tasks)
        list(group.results)
    finally:
        for runner in runners:
            runner.stop(grace=10)
    starts = [float(line.split()[0]) for line in stamps.read_text().splitlines()]
    return [summary(f"{processes} runner processes: task starts", starts, limit)]


# -- command line ----------------------------------------------------------------------------


@contextmanager
def backend_urls(kind: str, tmp: Path) -> Iterator[tuple[str, str]]:
    """(broker URL, state URL) of a fresh deployment of ``kind``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db"
        return
    with running_server("redis") as url:
        base = url.rsplit("/", 1)[0]
        yield f"{base}/0", f"{base}/1"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", default="20/s", help="the rate_limit (default 20/s)")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--backend", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--measures", default="primitive,runners")
    parser.add_argument(
        "--body", type=float, default=0.0, help="seconds each task takes after its start"
    )
    args = parser.parse_args(argv)
    limit = rate_limit(args.rate)
    assert limit is not None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, backend_urls(args.backend, Path(tmp)) as urls:
        for measure in args.measures.split(","):
            try:
                if measure == "primitive":
                    rows += measure_primitive(urls[1], limit, args.tasks, args.processes)
                else:
                    rows += measure_runners(
                        urls, limit, args.tasks, args.processes, Path(tmp), args.body
                    )
            except Unavailable as exc:
                print(f"{measure}: not available yet: {exc}")
    print(f"rate_limit={limit}, {args.tasks} starts, {args.processes} processes, {args.backend}")
    for row in rows:
        print(
            f"  {row['measure']:<38} achieved {row['achieved_per_s']:6.2f}/s "
            f"(limit {row['limit_per_s']:g}/s)  max in any 1 s: {row['max_in_1s']} "
            f"(allowed {row['allowed_in_1s']:g})  gap p50 {row['gap_p50_ms']:.1f} ms, "
            f"min {row['gap_min_ms']:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
