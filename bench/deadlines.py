"""``python -m bench.deadlines``: how promptly limits and cancellations take effect.

For each runner and state backend (SQLite; Redis on a loopback server), over ``--runs``
runs each:

* cancel → stopped: from ``invocation.cancel()`` returning to the process running the task
  being gone (``/proc``), cancelling at a random moment (0-0.5 s) after the task started, so
  that the phase of the runner's cancellation check is sampled evenly;
* limit → error: from the attempt's hard limit (its RUNNING entry + ``timeout``) to the
  waiter holding ``TaskTimeoutError``.

Prints p50 and max per case.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import tasks_deadlines
from pynenc import InvocationStatus, TaskTimeoutError
from tests.servers import RedisServer, require_binary

ROOT = Path(__file__).resolve().parent.parent


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone (between the open and the read)
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextmanager
def _runner(runner_cls: str, broker: str, state: str, log: Path) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    env.update(PYNENC__BROKER_URL=broker, PYNENC__STATE_BACKEND_URL=state, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "pynenc", "--app", "bench.tasks_deadlines:app", "runner", "start"]
    argv += ["--runner", runner_cls, "--threads", "1", "--processes", "1", "-l", "warning"]
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=out)
    try:
        yield
    finally:
        process.terminate()
        process.wait(60)


def _cancel_latency(directory: Path) -> float:
    pid_file = directory / f"pid-{random.random()}"
    invocation = tasks_deadlines.blocker(str(pid_file))
    while not pid_file.exists() or not pid_file.read_text():
        time.sleep(0.005)
    pid = int(pid_file.read_text())
    time.sleep(random.uniform(0, 0.5))
    invocation.cancel()
    began = time.monotonic()
    while _alive(pid):
        time.sleep(0.001)
    return time.monotonic() - began


def _limit_latency() -> float:
    invocation = tasks_deadlines.overrun()
    try:
        invocation.get_result(timeout=120)
    except TaskTimeoutError:
        woke = time.time()
    history = tasks_deadlines.app.state_backend.history(invocation.invocation_id)
    began = [e.timestamp for e in history if e.status is InvocationStatus.RUNNING][-1]
    return woke - (began + tasks_deadlines.LIMIT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument(
        "--runners", default="ProcessRunner,PersistentProcessRunner,MultiThreadRunner,ThreadRunner"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pynenc-bench-limits-"))
    redis = None
    if "redis" in args.backends:
        redis = RedisServer(require_binary("redis-server"))
        redis.start()
    app = tasks_deadlines.app
    try:
        for backend in args.backends.split(","):
            for runner_cls in args.runners.split(","):
                if backend == "sqlite":
                    broker = f"sqlite:///{work}/{runner_cls}-b.db"
                    state = f"sqlite:///{work}/{runner_cls}-s.db"
                else:
                    assert redis is not None
                    broker, state = redis.db_url(), redis.db_url()
                app.reset_components()
                app.conf.broker_url, app.conf.state_backend_url = broker, state
                with _runner(runner_cls, broker, state, work / f"{runner_cls}.log"):
                    limit = [_limit_latency() for _ in range(args.runs)]
                    # a thread cannot be stopped: only process runners are measured
                    cancel = (
                        [_cancel_latency(work) for _ in range(args.runs)]
                        if runner_cls != "ThreadRunner"
                        else []
                    )
                _report(backend, runner_cls, "limit -> waiter's error", limit)
                if cancel:
                    _report(backend, runner_cls, "cancel() -> process gone", cancel)
    finally:
        app.reset_components()
        if redis is not None:
            redis.cleanup()


def _report(backend: str, runner_cls: str, what: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"{backend:<7}{runner_cls:<24}{what:<26}p50 {statistics.median(ms):6.0f} ms"
        f"   max {max(ms):6.0f} ms   (n={len(ms)})",
        flush=True,
    )


if __name__ == "__main__":
    main()
