"""What a workflow step costs beside a plain task call, on Redis.

``python -m bench.workflow_step [--steps 200] [--values 500] [--replay 200] [--fan 100]
[--rounds 5] [--round-trips] [--json bench/results/workflow_step.json]`` starts a Redis
server (broker and state backend) and one thread runner subprocess
(``bench/tasks_workflow.py``, 8 threads), then, in each round (the order of the two sides of
each comparison alternating from round to round):

1. **sequential children**: a parent calls ``child(i).result`` ``--steps`` times, and a
   workflow parent ``wf.execute_task(child, i).result``: ms per step (p50, p95, mean);
2. **value steps**: ``--values`` steps of ``wf.random()``, ``wf.get_state()`` and
   ``wf.save_state()`` in a first run: µs per step;
3. **replay**: a workflow records ``--replay`` steps (``wf.random()``, or
   ``wf.execute_task(child, i).result``; or one ``wf.execute_tasks`` of ``--fan`` children),
   pauses, and is resumed: the resumed run replays them; seconds of the first run and of
   the replay;
4. **fan-out**: ``wf.execute_tasks(child, [--fan calls])`` against
   ``child.parallelize(...)``, then every result: ms to submit and in all, runner CPU.

Every parent times its own steps (``perf_counter`` inside the task). Redis commands per step
come from ``INFO commandstats`` (commands inside Lua scripts count one by one): the commands
of the run minus those of the same parent with no steps, divided by the steps.
``--round-trips`` adds one pass under ``MONITOR`` (``bench/redis_trips.py``): the requests
the runner and the caller sent per step, by command. Figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.machine import CpuMeter, describe_machine, load_average
from bench.measure import percentile
from bench.procs import WorkerProcess, python_argv, running_server, wait_ready
from bench.settings import WORKER_THREADS
from bench.transports import redis_commands

APP_ID = "bench-workflow"
RUNNER_CODE = "import bench.tasks_workflow as m; m.app.runner.run()"
TIMEOUT = 300.0
VALUE_KINDS = ("random", "get_state", "save_state")
_TICK = os.sysconf("SC_CLK_TCK")
#: turns of each side in a sequential measure
BLOCKS = 4


class Bench:
    """The tasks module (imported once the environment names the server) and its runner."""

    def __init__(self, tasks: ModuleType, url: str, runner: WorkerProcess) -> None:
        self.tasks = tasks
        self.url = url
        self.runner = runner

    def call(self, name: str, *args: Any) -> Any:
        return getattr(self.tasks, name)(*args).get_result(timeout=TIMEOUT)

    def runner_cpu(self) -> float:
        """CPU seconds (user + system) the runner process used so far."""
        assert self.runner.process is not None
        stat = Path(f"/proc/{self.runner.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def counted(self, action: Callable[[], Any]) -> tuple[Any, int]:
        """What ``action`` returned and the Redis commands run meanwhile."""
        before = redis_commands(self.url)
        value = action()
        return value, redis_commands(self.url) - before

    def per_step(self, name: str, args: tuple[Any, ...], base: tuple[Any, ...], n: int) -> float:
        """Redis commands per step: a run of ``args`` minus a run of ``base``, over ``n``."""
        _, with_steps = self.counted(lambda: self.call(name, *args))
        _, without = self.counted(lambda: self.call(name, *base))
        return (with_steps - without) / n

    # -- the four measures ---------------------------------------------------------------

    def sequential(self, n: int, first: str) -> dict[str, dict[str, float]]:
        """The two parents take turns, ``BLOCKS`` runs of n / ``BLOCKS`` steps each, so
        that a busy moment of the machine is shared out."""
        order = (first, "wf_steps" if first == "plain_steps" else "plain_steps")
        steps: dict[str, list[float]] = {name: [] for name in order}
        cpu = dict.fromkeys(order, 0.0)
        size = max(1, n // BLOCKS)
        for _ in range(max(1, n // size)):
            for name in order:
                before = self.runner_cpu()
                steps[name].extend(s * 1e3 for s in self.call(name, size))
                cpu[name] += self.runner_cpu() - before
        found: dict[str, dict[str, float]] = {}
        for name, took in steps.items():
            found[name] = {
                "p50_ms": percentile(took, 0.5),
                "p95_ms": percentile(took, 0.95),
                "mean_ms": statistics.fmean(took),
                "runner_cpu_us": cpu[name] / len(took) * 1e6,
                "cmds_per_step": self.per_step(name, (n,), (0,), n),
            }
        return found

    def values(self, k: int) -> dict[str, dict[str, float]]:
        found = {}
        for kind in VALUE_KINDS:
            seconds = self.call("value_steps", kind, k)
            found[kind] = {
                "us_per_step": seconds / k * 1e6,
                "cmds_per_step": self.per_step("value_steps", (kind, k), (kind, 0), k),
            }
        return found

    def replay(self, name: str, steps: int, count_as: int) -> dict[str, float]:
        """Run ``name(steps)`` to its pause, resume it: the first run's and the replay's
        seconds (for ``count_as`` steps) and the commands of the resumed run per step, less
        those of a workflow with no steps paused and resumed."""
        first, replayed, commands = self._paused_and_resumed(name, steps)
        _, _, base = self._paused_and_resumed(name, 0)
        return {
            "first_ms": first * 1e3,
            "replay_ms": replayed * 1e3,
            "first_us_per_step": first / count_as * 1e6,
            "replay_us_per_step": replayed / count_as * 1e6,
            "replay_cmds_per_step": (commands - base) / count_as,
        }

    def _paused_and_resumed(self, name: str, steps: int) -> tuple[float, float, int]:
        app = self.tasks.app
        invocation = getattr(self.tasks, name)(steps)
        self._wait_paused(invocation.invocation_id)
        reason = app.workflows.get(invocation.invocation_id).paused_reason
        first = float(reason or "nan")
        replayed, commands = self.counted(
            lambda: app.workflows.resume(invocation.invocation_id).get_result(timeout=TIMEOUT)
        )
        return first, float(replayed), commands

    def _wait_paused(self, invocation_id: str) -> None:
        from pynenc.records import InvocationStatus

        backend = self.tasks.app.state_backend
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            record = backend.get(invocation_id)
            if record is not None and record.status is InvocationStatus.PAUSED:
                return
            if record is not None and record.status.is_final:
                raise RuntimeError(f"{invocation_id} ended {record.status.name} before pausing")
            self.runner.check_alive()
            time.sleep(0.005)  # polling a status the bench does not time
        raise TimeoutError(f"{invocation_id} did not pause within {TIMEOUT:.0f} s")

    def fan(self, n: int, first: str) -> dict[str, dict[str, float]]:
        """The two parents take turns, ``BLOCKS`` fan-outs each: the medians."""
        order = (first, "fan_wf" if first == "fan_plain" else "fan_plain")
        runs: dict[str, list[list[float]]] = {name: [] for name in order}
        for _ in range(BLOCKS):
            for name in order:
                before = self.runner_cpu()
                submit, total = self.call(name, n)
                runs[name].append([submit, total, self.runner_cpu() - before])
        found: dict[str, dict[str, float]] = {}
        for name, figures in runs.items():
            found[name] = {
                "submit_ms": statistics.median(f[0] for f in figures) * 1e3,
                "total_ms": statistics.median(f[1] for f in figures) * 1e3,
                "runner_cpu_us": statistics.median(f[2] for f in figures) / n * 1e6,
                "cmds_per_child": self.per_step(name, (n,), (0,), n),
            }
        return found


def one_round(bench: Bench, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    swap = round_no % 2 == 1
    meter = CpuMeter()
    meter.start()
    figures: dict[str, Any] = {
        "sequential": bench.sequential(args.steps, "wf_steps" if swap else "plain_steps"),
        "values": bench.values(args.values),
        "replay": {
            "replay_values": bench.replay("replay_values", args.replay, args.replay),
            "replay_children": bench.replay("replay_children", args.replay, args.replay),
            "replay_fan": bench.replay("replay_fan", args.fan, args.fan),
        },
        "fan": bench.fan(args.fan, "fan_wf" if swap else "fan_plain"),
    }
    figures["machine"] = meter.stop()
    return figures


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every figure over the rounds (same nesting as a round)."""

    def merge(items: list[Any]) -> Any:
        if isinstance(items[0], dict):
            return {key: merge([item[key] for item in items if key in item]) for key in items[0]}
        return statistics.median(items)

    return merge(rounds)  # type: ignore[no-any-return]


def table(m: dict[str, Any], args: argparse.Namespace) -> list[str]:
    seq, plain = m["sequential"]["wf_steps"], m["sequential"]["plain_steps"]
    lines = [
        f"1. sequential children ({args.steps} steps; ms per step; CPU µs: the runner's per step)",
        f"   {'':34}{'p50':>8}{'p95':>8}{'mean':>8}{'cmds':>8}{'CPU µs':>8}",
    ]
    for label, row in (("child(i).result", plain), ("wf.execute_task(child, i).result", seq)):
        lines.append(
            f"   {label:34}{row['p50_ms']:>8.2f}{row['p95_ms']:>8.2f}{row['mean_ms']:>8.2f}"
            f"{row['cmds_per_step']:>8.1f}{row['runner_cpu_us']:>8.0f}"
        )
    lines.append(
        f"   {'wf / plain':34}{seq['p50_ms'] / plain['p50_ms']:>7.2f}x"
        f"{seq['p95_ms'] / plain['p95_ms']:>7.2f}x{seq['mean_ms'] / plain['mean_ms']:>7.2f}x"
        f"{seq['cmds_per_step'] / plain['cmds_per_step']:>7.2f}x"
        f"{seq['runner_cpu_us'] / plain['runner_cpu_us']:>7.2f}x"
    )
    lines.append(
        f"2. value steps, first run ({args.values} steps each; / call: over a plain child call)"
    )
    lines.append(f"   {'':34}{'µs/step':>8}{'cmds':>8}{'/ call':>9}")
    for kind, row in m["values"].items():
        lines.append(
            f"   {'wf.' + kind + '()':34}{row['us_per_step']:>8.0f}{row['cmds_per_step']:>8.1f}"
            f"{row['us_per_step'] / 1e3 / plain['mean_ms']:>8.3f}x"
        )
    lines.append("3. replay after a resume (µs per step; replay / first run)")
    lines.append(f"   {'':34}{'first':>8}{'replay':>8}{'ratio':>8}{'cmds':>8}")
    for name, label in (
        ("replay_values", f"{args.replay} x wf.random()"),
        ("replay_children", f"{args.replay} x wf.execute_task().result"),
        ("replay_fan", f"wf.execute_tasks({args.fan}), per child"),
    ):
        row = m["replay"][name]
        lines.append(
            f"   {label:34}{row['first_us_per_step']:>8.0f}{row['replay_us_per_step']:>8.0f}"
            f"{row['replay_us_per_step'] / row['first_us_per_step']:>7.2f}x"
            f"{row['replay_cmds_per_step']:>8.2f}"
        )
    wf, par = m["fan"]["fan_wf"], m["fan"]["fan_plain"]
    lines.append(f"4. fan-out of {args.fan} children (ms; CPU µs: the runner's per child)")
    lines.append(f"   {'':34}{'submit':>8}{'total':>8}{'cmds/ch':>8}{'CPU µs':>8}")
    for label, row in (("child.parallelize(...)", par), ("wf.execute_tasks(child, ...)", wf)):
        lines.append(
            f"   {label:34}{row['submit_ms']:>8.1f}{row['total_ms']:>8.1f}"
            f"{row['cmds_per_child']:>8.1f}{row['runner_cpu_us']:>8.0f}"
        )
    lines.append(
        f"   {'execute_tasks / parallelize':34}{wf['submit_ms'] / par['submit_ms']:>7.2f}x"
        f"{wf['total_ms'] / par['total_ms']:>7.2f}x"
        f"{wf['cmds_per_child'] / par['cmds_per_child']:>7.2f}x"
        f"{wf['runner_cpu_us'] / par['runner_cpu_us']:>7.2f}x"
    )
    others = m.get("machine", {}).get("others_cpu_pct")
    if others is not None:
        lines.append(f"MACHINE: {others:.0f}% of the CPUs used by other processes")
    return lines


def round_trips(bench: Bench, args: argparse.Namespace) -> list[str]:
    """One pass of each step kind under ``MONITOR``: requests per step, by process."""
    from bench.redis_trips import TripCounter

    assert bench.runner.process is not None
    # the runner is the bench's child: named last, its sockets are its own, not the caller's
    roles = {"caller": os.getpid(), "runner": bench.runner.process.pid}
    passes: list[tuple[str, str, tuple[Any, ...], int]] = [
        ("child(i).result", "plain_steps", (args.steps,), args.steps),
        ("wf.execute_task(child, i).result", "wf_steps", (args.steps,), args.steps),
        *[(f"wf.{k}()", "value_steps", (k, args.values), args.values) for k in VALUE_KINDS],
        (f"child.parallelize({args.fan}), per child", "fan_plain", (args.fan,), args.fan),
        (f"wf.execute_tasks({args.fan}), per child", "fan_wf", (args.fan,), args.fan),
    ]
    lines = ["round trips per step (MONITOR; the parent's own requests spread over its steps)"]
    for label, name, call_args, per in passes:
        with TripCounter(bench.url) as trips:
            bench.call(name, *call_args)
        lines.append(f" {label}")
        lines.extend(trips.table(roles, per))
    replays = [
        (f"replay of {args.replay} x wf.execute_task().result", "replay_children", args.replay),
        (f"replay of wf.execute_tasks({args.fan}), per child", "replay_fan", args.fan),
    ]
    for label, name, per in replays:
        invocation = getattr(bench.tasks, name)(per)
        bench._wait_paused(invocation.invocation_id)
        with TripCounter(bench.url) as trips:
            app = bench.tasks.app
            app.workflows.resume(invocation.invocation_id).get_result(timeout=TIMEOUT)
        lines.append(f" {label} (the resume and the resumed run)")
        lines.extend(trips.table(roles, per))
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="sequential child steps")
    parser.add_argument("--values", type=int, default=500, help="steps per value step kind")
    parser.add_argument("--replay", type=int, default=200, help="steps recorded, then replayed")
    parser.add_argument("--fan", type=int, default=100, help="children of a fan-out")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-trips", action="store_true", help="add a MONITOR pass")
    parser.add_argument("--json", default="bench/results/workflow_step.json")
    args = parser.parse_args(argv)
    for name in ("steps", "values", "replay", "fan", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    machine = describe_machine()
    started = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="bench-workflow-"))
    print(f"workflow step bench: {vars(args)} ({machine['cpus_usable']} CPUs)", flush=True)
    with running_server("redis") as url:
        env = {
            "PYNENC__APP_ID": APP_ID,
            "PYNENC__BROKER_URL": url,
            "PYNENC__STATE_BACKEND_URL": url,
            "PYNENC__RUNNER__THREADS": str(WORKER_THREADS),
        }
        os.environ.update(env)  # the bench's own app (the caller) reads them when built
        tasks = importlib.import_module("bench.tasks_workflow")
        runner = WorkerProcess("workflow-runner", python_argv("-c", RUNNER_CODE), env, workdir)
        runner.start()
        try:
            bench = Bench(tasks, url, runner)
            wait_ready(lambda: tasks.child(7).get_result(timeout=5), runner, 60)
            warm_up = argparse.Namespace(steps=20, values=20, replay=20, fan=20)
            one_round(bench, warm_up, 0)
            rounds = []
            for round_no in range(args.rounds):
                rounds.append(one_round(bench, args, round_no))
                print(f"round {round_no + 1}/{args.rounds} done", flush=True)
            trips = round_trips(bench, args) if args.round_trips else []
        finally:
            runner.stop(10)
    result = medians(rounds)
    print("\n".join(["", f"medians over {args.rounds} rounds", *table(result, args), *trips]))
    report = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": sys.argv,
        "machine": {**machine, "loadavg_at_end": load_average()},
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "runner": f"{RUNNER_CODE} (runner.threads={WORKER_THREADS}), Redis broker and state",
        "medians": result,
        "rounds": rounds,
        "round_trips": trips,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {path}")
    return report


if __name__ == "__main__":
    main()
