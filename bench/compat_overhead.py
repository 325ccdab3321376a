"""What the Celery layer costs in CPU per call, beside native pynenc, on Redis.

``python -m bench.compat_overhead [--calls 1000] [--rounds 5]`` starts a Redis server and
two runner subprocesses (8 threads each): one for native pynenc tasks (``bench.tasks_pynenc``)
and one for the compat tasks (``bench.tasks_compat``). Each round makes ``--calls``
sequential round trips through each (native ``echo(i).result``, compat
``echo.delay(i).get()``), alternating which goes first, and records per call: the caller
thread's CPU time, the runner process's CPU time (``/proc/<pid>/stat``), the wall-clock
p50 and the Redis commands the server ran per call (``INFO commandstats``: the layer should
add none). CPU time barely moves when other work shares the machine, where wall-clock latency
does: compare the CPU columns first. Prints medians over the rounds.

``--py-spy DIR`` then profiles one more round of each (``py-spy record`` attached to this
process and to that system's runner for that round only): collapsed stacks in
``DIR/{native,compat}-{caller,runner}.txt`` and the costliest functions in µs per call
(as :mod:`bench.hotpath`; py-spy must be installed, it is no project dependency).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.hotpath import redis_command_counts, start_py_spy, top_functions
from bench.measure import percentile
from bench.procs import WorkerProcess, python_argv, running_server, wait_ready
from bench.settings import WORKER_THREADS
from bench.tasks_compat import make_tasks
from pynenc import Pynenc

_TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _measure(call: Callable[[int], Any], calls: int, runner_pid: int, url: str) -> dict[str, float]:
    latencies = []
    commands_before = sum(redis_command_counts(url).values())
    runner_before = _process_cpu(runner_pid)
    caller_before = time.thread_time()
    for i in range(calls):
        start = time.perf_counter()
        if call(i) != i:
            raise AssertionError("wrong result")
        latencies.append(time.perf_counter() - start)
    caller = time.thread_time() - caller_before
    runner = _process_cpu(runner_pid) - runner_before
    commands = sum(redis_command_counts(url).values()) - commands_before - 1  # INFO itself
    return {
        "caller_us": caller / calls * 1e6,
        "runner_us": runner / calls * 1e6,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "redis_cmds": commands / calls,
    }


def _profile(name: str, call: Callable[[int], Any], runner_pid: int, args: Any, out: Path) -> None:
    """One more round of ``name`` under py-spy (caller and runner, GIL holder only)."""
    out.mkdir(parents=True, exist_ok=True)
    roles = {"caller": os.getpid(), "runner": runner_pid}
    spies = {
        role: start_py_spy(pid, out / f"{name}-{role}.txt", args.rate, gil=True)
        for role, pid in roles.items()
    }
    time.sleep(1.0)  # py-spy attaches asynchronously; let it start sampling
    for i in range(args.calls):
        call(i)
    for spy in spies.values():
        spy.send_signal(signal.SIGINT)
    for spy in spies.values():
        spy.wait(30)
    for role in roles:
        print(f"\n{name} {role} (py-spy, {args.rate} Hz, µs per call):")
        print("\n".join(top_functions(out / f"{name}-{role}.txt", args.rate, args.calls, args.top)))


def _runner(name: str, code: str, env: dict[str, str], workdir: Path) -> WorkerProcess:
    env = {**env, "PYNENC__RUNNER__THREADS": str(WORKER_THREADS)}
    worker = WorkerProcess(name, python_argv("-c", code), env, workdir)
    worker.start()
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--py-spy", dest="py_spy", help="directory for py-spy's stacks")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-compat-"))
    with running_server("redis") as url:
        native_env = {
            "PYNENC__APP_ID": "overhead-native",
            "PYNENC__BROKER_URL": url,
            "PYNENC__STATE_BACKEND_URL": url,
        }
        compat_env = {
            "BENCH_COMPAT_APP": "overhead-compat",
            "BENCH_COMPAT_BROKER_URL": url,
            "BENCH_COMPAT_RESULT_BACKEND": url,
        }
        native_code = "import bench.tasks_pynenc as m; m.app.runner.run()"
        compat_code = "import bench.tasks_compat as m; m.app.pynenc.runner.run()"
        workers = [
            _runner("native-runner", native_code, native_env, workdir),
            _runner("compat-runner", compat_code, compat_env, workdir),
        ]
        try:
            from bench import tasks_pynenc

            native = Pynenc(
                config_values={
                    "app_id": "overhead-native",
                    "broker_url": url,
                    "state_backend_url": url,
                }
            )
            echo = native.task(tasks_pynenc.echo.func)
            compat = make_tasks("overhead-compat", url, url).echo
            systems: dict[str, tuple[Callable[[int], Any], WorkerProcess]] = {
                "native": (lambda i: echo(i).result, workers[0]),
                "compat": (lambda i: compat.delay(i).get(timeout=30), workers[1]),
            }
            for call, worker in systems.values():
                wait_ready(lambda call=call: call(7), worker, 60)
                for i in range(100):  # warm-up
                    call(i)
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in systems}
            for round_no in range(args.rounds):
                order = list(systems) if round_no % 2 == 0 else list(reversed(systems))
                for name in order:
                    call, worker = systems[name]
                    assert worker.process is not None
                    rounds[name].append(_measure(call, args.calls, worker.process.pid, url))
            if args.py_spy:
                for name, (call, worker) in systems.items():
                    assert worker.process is not None
                    _profile(name, call, worker.process.pid, args, Path(args.py_spy))
        finally:
            for worker in workers:
                worker.stop(10)
    medians = {
        name: {key: statistics.median(r[key] for r in figures) for key in figures[0]}
        for name, figures in rounds.items()
    }
    print(f"round trips on Redis, {args.calls} calls x {args.rounds} rounds (medians)")
    print(f"  {'':8}{'caller CPU µs':>15}{'runner CPU µs':>15}{'p50 ms':>9}{'cmds':>7}")
    for name, figures in medians.items():
        print(
            f"  {name:8}{figures['caller_us']:>15.0f}{figures['runner_us']:>15.0f}"
            f"{figures['p50_ms']:>9.2f}{figures['redis_cmds']:>7.1f}"
        )
    native_total = medians["native"]["caller_us"] + medians["native"]["runner_us"]
    compat_total = medians["compat"]["caller_us"] + medians["compat"]["runner_us"]
    print(
        f"  compat / native: CPU per call {compat_total / native_total:.2f}x, "
        f"p50 {medians['compat']['p50_ms'] / medians['native']['p50_ms']:.2f}x"
    )


if __name__ == "__main__":
    main()
