"""A pynenc workload for profilers: call -> publish -> claim -> run -> store -> notify -> wake.

``python -m bench.hotpath --transport embedded|redis|rabbitmq --calls N [--py-spy DIR]``
runs ``N`` tasks (``--mode roundtrip``: sequential ``direct_task`` calls; ``throughput``:
batches of 500 ``noop()`` then their results, each batch enqueued by ``--callers`` threads
(1); ``chain``: chains of ``--size`` steps (100), each waited for; ``chord``: chords of
``--size`` no-op members (1000) and a body, each waited for) after a warm-up. With
``--py-spy DIR`` it attaches ``py-spy record`` to the caller (this process) and, on a
server transport, to the runner subprocess, for the measured part only, writes collapsed
stacks to ``DIR/{caller,runner}.txt`` and prints the functions that cost most, in µs of
CPU per task. ``rabbitmq`` is RabbitMQ as the broker and Redis as the state backend (as
in ``make bench``). On Redis (either transport) it also prints the server's commands per
task (``INFO commandstats``), and with ``--round-trips`` each process's round trips per
task (``MONITOR``, :mod:`bench.redis_trips`; it slows the server, so the rate drops).
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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import tasks_embedded, tasks_pynenc
from bench.procs import WorkerProcess, python_argv, running_server
from bench.redis_trips import TripCounter
from bench.settings import WORKER_THREADS
from bench.sys_pynenc import RUNNER_CODE
from pynenc import Pynenc, chain, chord

BATCH = 500
#: throughput mode: the caller threads' CPU seconds enqueueing and waiting for results
CALLER_CPU: Counter[str] = Counter()
#: throughput mode: wall seconds spent enqueueing (the batches' calls, before their results)
ENQUEUE_WALL: Counter[str] = Counter()
#: steps of a chain and members of a chord, unless ``--size`` says otherwise
SIZES = {"chain": 100, "chord": 1000}


@dataclass(frozen=True)
class Tasks:
    """The tasks of a workload, on the caller's app."""

    noop: Any
    echo: Any
    echo_direct: Any
    inc: Any
    total: Any


def workload(tasks: Tasks, mode: str, calls: int, size: int, callers: int = 1) -> tuple[float, int]:
    """Run about ``calls`` tasks (whole compositions of ``size``): seconds taken, tasks run.
    ``callers``: threads that share the enqueueing of each throughput batch."""
    start = time.perf_counter()
    if mode == "roundtrip":
        for i in range(calls):
            tasks.echo_direct(i)
    elif mode == "throughput":
        for done in range(0, calls, BATCH):
            started = time.perf_counter()
            invocations = enqueue(tasks, min(BATCH, calls - done), callers)
            ENQUEUE_WALL["seconds"] += time.perf_counter() - started
            waiting = time.thread_time()
            for invocation in invocations:
                invocation.get_result(timeout=60)
            CALLER_CPU["wait"] += time.thread_time() - waiting
    elif mode == "chain":
        for _ in range(max(1, calls // size)):
            steps = [tasks.inc.sig() for _ in range(size - 1)]
            chain(tasks.inc.sig(0), *steps).run().last.get_result(timeout=120)
        calls = max(1, calls // size) * size
    else:
        for _ in range(max(1, calls // size)):
            members = [tasks.echo.sig(i) for i in range(size)]
            chord(members, tasks.total.sig()).run().last.get_result(timeout=120)
        calls = max(1, calls // size) * (size + 1)
    return time.perf_counter() - start, calls


def enqueue(tasks: Tasks, n: int, callers: int) -> list[Any]:
    """``n`` calls of ``noop()`` shared among ``callers`` threads (this one alone for 1);
    their CPU is added to ``CALLER_CPU["enqueue"]``. A call that fails fails the run."""
    lock = threading.Lock()

    def call(count: int) -> list[Any]:
        before = time.thread_time()
        share = [tasks.noop() for _ in range(count)]
        with lock:
            CALLER_CPU["enqueue"] += time.thread_time() - before
        return share

    if callers == 1:
        return call(n)
    counts = [n // callers + (i < n % callers) for i in range(callers)]
    with ThreadPoolExecutor(callers) as pool:  # map re-raises what a call raised
        return [invocation for share in pool.map(call, counts) for invocation in share]


@contextlib.contextmanager
def embedded() -> Iterator[tuple[Tasks, list[int]]]:
    app = tasks_embedded.app
    thread = threading.Thread(target=app.runner.run, daemon=True)
    thread.start()
    m = tasks_embedded
    try:
        yield Tasks(m.noop, m.echo, m.echo_direct, m.inc, m.total), []
    finally:
        app.runner.stop_runner_loop()
        thread.join(10)


@contextlib.contextmanager
def on_servers(
    broker_url: str, state_url: str, logs: Path, threads: int = WORKER_THREADS
) -> Iterator[tuple[Tasks, list[int]]]:
    """A runner subprocess with ``threads`` threads on ``broker_url`` (Redis or AMQP) and
    the Redis ``state_url``."""
    app_id = f"hotpath-{uuid.uuid4().hex[:6]}"
    app = Pynenc(
        config_values={
            "app_id": app_id,
            "broker_url": broker_url,
            "state_backend_url": state_url,
        }
    )
    m = tasks_pynenc
    echo_direct = app.direct_task(m.echo_direct.__inner_function__)
    tasks = Tasks(
        app.task(m.noop.func),
        app.task(m.echo.func),
        echo_direct,
        app.task(m.inc.func),
        app.task(m.total.func),
    )
    env = {
        "PYNENC__APP_ID": app_id,
        "PYNENC__BROKER_URL": broker_url,
        "PYNENC__STATE_BACKEND_URL": state_url,
        "PYNENC__RUNNER__THREADS": str(threads),
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
        yield tasks, [worker.process.pid]
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


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 thread, got {value}")
    return value


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)": one entry per function, whatever
    # the line; thread labels pass through
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')').rpartition(':')[0]).name})" if where else frame


def _proc_stats() -> dict[int, tuple[int, str, float]]:
    """Every process: its parent, its name and the CPU seconds it used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:  # gone meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        stats[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick)
    return stats


def cpu_by_role(runners: list[int], exclude: list[int]) -> Counter[str]:
    """CPU seconds used so far by this process (``caller``), the runners' process trees
    and each other child's tree (the servers, named by their busiest process:
    ``redis-server``, ``beam.smp``); ``exclude``: children not to count (py-spy)."""
    stats = _proc_stats()
    me = os.getpid()
    roles = {me: "caller", **{pid: "runner" for pid in runners}}
    for pid, (parent, _, _) in stats.items():
        if parent == me and pid not in roles and pid not in exclude:
            roles[pid] = ""
    used: Counter[int] = Counter()
    busiest: dict[int, tuple[float, str]] = {}  # a server's tree: its busiest process
    for pid, (_, name, seconds) in stats.items():
        node = pid
        while node > 1 and node not in roles:
            node = stats.get(node, (0, "", 0.0))[0]
        if node not in roles or (node == me and pid != me):
            continue
        used[node] += seconds
        busiest[node] = max(busiest.get(node, (-1.0, name)), (seconds, name))
    return Counter({roles[node] or busiest[node][1]: s for node, s in used.items()})


def redis_command_counts(url: str) -> Counter[str]:
    return redis_command_stats(url)[0]


def redis_command_stats(url: str) -> tuple[Counter[str], Counter[str]]:
    """The server's calls of each command so far, and the µs it spent in each (a script's
    commands count in the script's time too)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    names = {name: name.removeprefix("cmdstat_") for name in stats}
    calls = Counter({names[name]: int(v["calls"]) for name, v in stats.items()})
    usec = Counter({names[name]: int(v["usec"]) for name, v in stats.items()})
    return calls, usec


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument(
        "--transport", choices=("embedded", "redis", "rabbitmq"), default="embedded"
    )
    parser.add_argument(
        "--mode", choices=("roundtrip", "throughput", "chain", "chord"), default="roundtrip"
    )
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument(
        "--callers", type=_at_least_one, default=1, help="throughput: threads enqueueing each batch"
    )
    parser.add_argument(
        "--threads",
        type=_at_least_one,
        help=f"the runner subprocess's threads (redis, rabbitmq; {WORKER_THREADS})",
    )
    parser.add_argument("--size", type=int, help="chain steps (100) / chord members (1000)")
    parser.add_argument(
        "--round-trips", action="store_true", help="count each process's round trips (Redis)"
    )
    parser.add_argument("--py-spy", dest="py_spy", help="directory for py-spy's stacks")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--gil", action="store_true", help="sample only the GIL holder")
    args = parser.parse_args()
    if args.threads is not None and args.transport == "embedded":
        parser.error("--threads sets the runner subprocess's threads: redis or rabbitmq only")
    size = args.size or SIZES.get(args.mode, 1)
    logs = Path(tempfile.mkdtemp(prefix="hotpath-"))
    trips: list[str] = []
    with contextlib.ExitStack() as stack:
        url = None
        if args.transport in ("redis", "rabbitmq"):
            url = stack.enter_context(running_server("redis"))
            broker = url
            if args.transport == "rabbitmq":
                broker = stack.enter_context(running_server("rabbitmq"))
            tasks, pids = stack.enter_context(
                on_servers(broker, url, logs, args.threads or WORKER_THREADS)
            )
        else:
            tasks, pids = stack.enter_context(embedded())
        workload(tasks, args.mode, min(500, args.calls), size)  # warm-up
        CALLER_CPU.clear()
        ENQUEUE_WALL.clear()
        spies: dict[str, subprocess.Popen[bytes]] = {}
        out = Path(args.py_spy) if args.py_spy else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for role, pid in [("caller", os.getpid()), *(("runner", p) for p in pids)]:
                spies[role] = start_py_spy(pid, out / f"{role}.txt", args.rate, args.gil)
            time.sleep(1.0)  # py-spy attaches asynchronously; let it start sampling
        before, usec_before = redis_command_stats(url) if url else (Counter(), Counter())
        spy_pids = [spy.pid for spy in spies.values()]
        cpu_before = cpu_by_role(pids, spy_pids)
        with contextlib.ExitStack() as counting:
            counter = None
            if url and args.round_trips:
                counter = counting.enter_context(TripCounter(url))
            seconds, done = workload(tasks, args.mode, args.calls, size, args.callers)
        cpu_used = cpu_by_role(pids, spy_pids) - cpu_before
        after, usec_after = redis_command_stats(url) if url else (Counter(), Counter())
        if counter is not None:
            roles = {"caller": os.getpid(), **{f"runner{i}": p for i, p in enumerate(pids)}}
            trips = counter.table(roles, done)
        for spy in spies.values():
            spy.send_signal(signal.SIGINT)
        for spy in spies.values():
            spy.wait(30)
    print(f"{args.transport} {args.mode}: {done} tasks in {seconds:.2f} s ", end="")
    print(f"= {done / seconds:,.0f}/s, {seconds / done * 1e6:,.0f} µs/task wall")
    print("CPU per task, by process (µs):", end="")
    for role, seconds in sorted(cpu_used.items()):
        print(f" {role} {seconds / done * 1e6:,.0f}", end="")
    print(f"; total {sum(cpu_used.values()) / done * 1e6:,.0f}")
    if CALLER_CPU:
        parts = ", ".join(f"{k} {v / done * 1e6:,.0f}" for k, v in CALLER_CPU.items())
        print(f"caller threads' CPU per task (µs): {parts}")
        rate = done / ENQUEUE_WALL["seconds"]
        threads = "1 thread" if args.callers == 1 else f"{args.callers} threads"
        print(f"enqueued: {rate:,.0f}/s while enqueueing ({threads})")
    if url:
        delta, usec = after - before, usec_after - usec_before
        per_task = sum(delta.values()) / done
        print(f"redis commands per task: {per_task:.1f} (calls, and µs the server spent in them)")
        for name, count in delta.most_common(25):
            print(f"  {name:<14} {count / done:6.2f} {usec[name] / done:8.1f} µs")
    if trips:
        print("round trips per task, by process (MONITOR):")
        print("\n".join(trips))
    if out is not None:
        for role in spies:
            print(f"\n{role} (py-spy, {args.rate} Hz; stacks in {out / (role + '.txt')}):")
            print("\n".join(top_functions(out / f"{role}.txt", args.rate, done, args.top)))
    shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
