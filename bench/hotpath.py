"""A pynenc workload for profilers: call -> publish -> claim -> run -> store -> notify -> wake.

``python -m bench.hotpath --transport embedded|redis --calls N [--py-spy DIR]`` runs ``N``
tasks (``--mode roundtrip``: sequential ``direct_task`` calls; ``throughput``: batches of
500 ``noop()`` then their results) after a warm-up. With ``--py-spy DIR`` it attaches
``py-spy record`` to the caller (this process) and, on Redis, to the runner subprocess,
for the measured part only, writes collapsed stacks to ``DIR/{caller,runner}.txt`` and
prints the functions that cost most, in µs of CPU per task. On Redis it also prints the
server's commands per task (``INFO commandstats``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import tasks_embedded, tasks_pynenc
from bench.procs import WorkerProcess, python_argv, running_server
from bench.sys_pynenc import RUNNER_CODE
from pynenc import Pynenc

BATCH = 500


def workload(noop: Any, echo_direct: Callable[[int], int], mode: str, calls: int) -> float:
    """Run ``calls`` tasks; seconds taken."""
    start = time.perf_counter()
    if mode == "roundtrip":
        for i in range(calls):
            echo_direct(i)
    else:
        for done in range(0, calls, BATCH):
            invocations = [noop() for _ in range(min(BATCH, calls - done))]
            for invocation in invocations:
                invocation.get_result(timeout=60)
    return time.perf_counter() - start


@contextlib.contextmanager
def embedded() -> Iterator[tuple[Any, Any, list[int]]]:
    app = tasks_embedded.app
    thread = threading.Thread(target=app.runner.run, daemon=True)
    thread.start()
    try:
        yield tasks_embedded.noop, tasks_embedded.echo_direct, []
    finally:
        app.runner.stop_runner_loop()
        thread.join(10)


@contextlib.contextmanager
def on_redis(url: str, logs: Path) -> Iterator[tuple[Any, Any, list[int]]]:
    app_id = f"hotpath-{uuid.uuid4().hex[:6]}"
    app = Pynenc(config_values={"app_id": app_id, "broker_url": url, "state_backend_url": url})
    noop = app.task(tasks_pynenc.noop.func)
    echo_direct = app.direct_task(tasks_pynenc.echo_direct.__inner_function__)
    env = {
        "PYNENC__APP_ID": app_id,
        "PYNENC__BROKER_URL": url,
        "PYNENC__STATE_BACKEND_URL": url,
        "PYNENC__RUNNER__THREADS": "8",
    }
    worker = WorkerProcess("hotpath-runner", python_argv("-c", RUNNER_CODE), env, logs)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            worker.check_alive()
            try:
                echo_direct(1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        assert worker.process is not None
        yield noop, echo_direct, [worker.process.pid]
    finally:
        worker.stop(10)


def start_py_spy(pid: int, out: Path, rate: int, gil: bool) -> subprocess.Popen[bytes]:
    binary = shutil.which("py-spy") or str(Path(python_argv()[0]).with_name("py-spy"))
    argv = [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)]
    argv += ["--nonblocking", "--output", str(out), *(["--gil"] if gil else [])]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def top_functions(path: Path, rate: int, tasks: int, limit: int) -> list[str]:
    """The costliest functions of a collapsed-stack file, inclusive and self, µs/task."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():  # a frame name with a newline in it
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";") if not f.startswith("process ")]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            leaf[frames[-1]] += count
    scale = 1e6 / rate / tasks
    lines = [f"  {total * scale:8.1f} µs/task of CPU samples in total ({total} samples)"]
    lines.append("  inclusive µs/task   self µs/task   function")
    for frame, count in inclusive.most_common(limit):
        lines.append(f"  {count * scale:17.1f}   {leaf[frame] * scale:12.1f}   {frame}")
    return lines


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)": one entry per function, whatever
    # the line; thread labels pass through
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')').rpartition(':')[0]).name})" if where else frame


def redis_command_counts(url: str) -> Counter[str]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument("--transport", choices=("embedded", "redis"), default="embedded")
    parser.add_argument("--mode", choices=("roundtrip", "throughput"), default="roundtrip")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--py-spy", dest="py_spy", help="directory for py-spy's stacks")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--gil", action="store_true", help="sample only the GIL holder")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="hotpath-"))
    with contextlib.ExitStack() as stack:
        url = None
        if args.transport == "redis":
            url = stack.enter_context(running_server("redis"))
            noop, echo_direct, pids = stack.enter_context(on_redis(url, logs))
        else:
            noop, echo_direct, pids = stack.enter_context(embedded())
        workload(noop, echo_direct, args.mode, min(500, args.calls))  # warm-up
        spies: dict[str, subprocess.Popen[bytes]] = {}
        out = Path(args.py_spy) if args.py_spy else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for role, pid in [("caller", os.getpid()), *(("runner", p) for p in pids)]:
                spies[role] = start_py_spy(pid, out / f"{role}.txt", args.rate, args.gil)
            time.sleep(1.0)  # py-spy attaches asynchronously; let it start sampling
        before = redis_command_counts(url) if url else Counter()
        seconds = workload(noop, echo_direct, args.mode, args.calls)
        after = redis_command_counts(url) if url else Counter()
        for spy in spies.values():
            spy.send_signal(signal.SIGINT)
        for spy in spies.values():
            spy.wait(30)
    print(f"{args.transport} {args.mode}: {args.calls} tasks in {seconds:.2f} s ", end="")
    print(f"= {args.calls / seconds:,.0f}/s, {seconds / args.calls * 1e6:,.0f} µs/task wall")
    if url:
        delta = after - before
        per_task = sum(delta.values()) / args.calls
        print(f"redis commands per task: {per_task:.1f}")
        for name, count in delta.most_common(25):
            print(f"  {name:<14} {count / args.calls:6.2f}")
    if out is not None:
        for role in spies:
            print(f"\n{role} (py-spy, {args.rate} Hz; stacks in {out / (role + '.txt')}):")
            print("\n".join(top_functions(out / f"{role}.txt", args.rate, args.calls, args.top)))
    shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
