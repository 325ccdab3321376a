"""What the Celery layer costs in CPU per call, beside native pynenc, on Redis.

``python -m bench.compat_overhead [--calls 1000] [--rounds 5]`` starts a Redis server and
two runner subprocesses (8 threads each): one for native pynenc tasks (``bench.tasks_pynenc``)
and one for the compat tasks (``bench.tasks_compat``). Each round makes ``--calls``
sequential round trips through each (native ``echo(i).result``, the native
``direct_task`` call ``echo(i)``, compat ``echo.delay(i).get()``; native and direct on the
same runner), alternating the order, and records per call: the caller
thread's CPU time, the runner process's CPU time (``/proc/<pid>/stat``), the wall-clock
p50 and the Redis commands the server ran per call (``INFO commandstats``: the layer should
add none). CPU time barely moves when other work shares the machine, where wall-clock latency
does: compare the CPU columns first. Prints medians over the rounds.

``--local`` measures the layer's own CPU instead, with no server and no load from the
round trip itself: the caller's CPU per call on memory backends with no runner (the wait of
both apps answered with the registered record made final, so the core's wait costs the
same on both sides and nothing is waited for), and a runner's CPU per ``execute()`` of a
claimed invocation (as :mod:`bench.execute_overhead`), native against compat, in
alternating rounds (medians). Repeatable to a microsecond or two on a busy machine.

``--py-spy DIR`` then profiles one more round of each (``py-spy record`` attached to this
process and to that system's runner for that round only): collapsed stacks in
``DIR/{native,direct,compat}-{caller,runner}.txt`` and the costliest functions in µs per call
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
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.hotpath import redis_command_counts, start_py_spy, top_functions
from bench.measure import percentile
from bench.procs import WorkerProcess, python_argv, running_server, wait_ready
from bench.settings import WORKER_THREADS
from bench.tasks_compat import make_tasks
from pynenc import Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.runner.execution import execute
from pynenc.runner.outcomes import OutcomeWriter
from pynenc.serializer.arguments import serialize_result

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


def _answered_at_once(app: Pynenc) -> None:
    """Make ``app``'s waits return at once: the registered record, made final with the
    value of its only argument (what ``echo`` returns), so a caller measures no wait."""
    backend, serializer = app.state_backend, app.serializer

    def wait_final(invocation_id: str, timeout: float | None) -> InvocationRecord:
        record = backend.get(invocation_id)
        assert record is not None
        value = serializer.loads(next(iter(record.arguments.values())))
        result = serialize_result(serializer, record.task_id, value)
        return replace(record, status=InvocationStatus.SUCCESS, result=result)

    app.orchestrator.wait_final = wait_final  # type: ignore[method-assign]


def _claimed(app: Pynenc, task: Any, count: int) -> list[Envelope]:
    """``count`` invocations of ``task`` (``echo``) registered and claimed, as a runner
    holds them before ``execute()``."""
    key, serializer, queue = task.task_id.key, app.serializer, task.conf.queue
    records = [
        InvocationRecord(new_invocation_id(), key, {"x": serializer.dumps(i)}, queue=queue)
        for i in range(count)
    ]
    app.state_backend.register(records, time.time())
    envelopes = [
        Envelope(r.invocation_id, key, r.arguments, app.conf.serializer, queue=queue)
        for r in records
    ]
    assert not any(app.orchestrator.claim_each(envelopes, "bench-compat"))
    return envelopes


def _local(calls: int, rounds: int) -> None:
    """The layer's own CPU per call on each side (``--local``, module docs)."""
    from bench import tasks_embedded

    native = Pynenc(config_values={"app_id": "overhead-native-local"})
    native_echo = native.task(tasks_embedded.echo.func)
    compat = make_tasks("overhead-compat-local", "memory://", None)
    compat_app = compat.app.pynenc
    for app in (native, compat_app):
        _answered_at_once(app)
    callers: dict[str, Callable[[int], Any]] = {
        "native": lambda i: native_echo(i).result,
        "compat": lambda i: compat.echo.delay(i).get(timeout=30),
    }
    runners = {
        "native": (tasks_embedded.app, tasks_embedded.echo),
        "compat": (compat_app, compat.echo.pynenc_task_for(compat_app)),
    }
    writers = {name: OutcomeWriter(app.orchestrator) for name, (app, _) in runners.items()}
    figures: dict[str, dict[str, list[float]]] = {n: {"caller": [], "runner": []} for n in callers}
    for round_no in range(rounds + 1):  # the first is a warm-up
        order = list(callers) if round_no % 2 else list(reversed(callers))
        for name in order:
            app, task = runners[name]
            envelopes = _claimed(app, task, calls)
            start = time.thread_time()
            for envelope in envelopes:
                execute(app, envelope, "bench-compat", writers[name])
            runner = (time.thread_time() - start) / calls * 1e6
            start = time.thread_time()
            for i in range(calls):
                if callers[name](i) != i:
                    raise AssertionError("wrong result")
            caller = (time.thread_time() - start) / calls * 1e6
            for pynenc_app in (app, native, compat_app):
                pynenc_app.purge()
            if round_no:
                figures[name]["caller"].append(caller)
                figures[name]["runner"].append(runner)
    medians = {n: {k: statistics.median(v) for k, v in f.items()} for n, f in figures.items()}
    print(f"the layer's own CPU, no server: {calls} calls x {rounds} rounds (medians, µs)")
    print(f"  {'':8}{'caller/call':>12}{'runner/execute':>16}")
    for name, values in medians.items():
        print(f"  {name:8}{values['caller']:>12.1f}{values['runner']:>16.1f}")
    added = {k: medians["compat"][k] - medians["native"][k] for k in ("caller", "runner")}
    print(f"  the layer adds {added['caller']:.1f} µs per call to the caller and ", end="")
    print(f"{added['runner']:.1f} µs per execution to the runner")


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
    parser.add_argument("--local", action="store_true", help="the layer's own CPU, no server")
    args = parser.parse_args()
    if args.local:
        _local(args.calls, args.rounds)
        return
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
            direct = native.direct_task(tasks_pynenc.echo_direct.__inner_function__)
            compat = make_tasks("overhead-compat", url, url).echo
            systems: dict[str, tuple[Callable[[int], Any], WorkerProcess]] = {
                "native": (lambda i: echo(i).result, workers[0]),
                "direct": (direct, workers[0]),
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
    compat = medians["compat"]
    for name in ("native", "direct"):
        base = medians[name]
        cpu = (compat["caller_us"] + compat["runner_us"]) / (base["caller_us"] + base["runner_us"])
        p50 = compat["p50_ms"] / base["p50_ms"]
        print(f"  compat / {name}: CPU per call {cpu:.2f}x, p50 {p50:.2f}x")


if __name__ == "__main__":
    main()
