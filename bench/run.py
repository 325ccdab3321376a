"""One benchmark run: every transport block in turn, systems interleaved round by round.

Within a transport block all systems are started once, then each round measures every
scenario for every system, the order of systems rotating from round to round, so that a
slow minute of the machine is shared out instead of landing on one system.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import sync_overhead
from bench.machine import CpuMeter
from bench.measure import Lane, MeasurementTimeout, Metrics, Unavailable
from bench.report import Report
from bench.settings import DISTRIBUTED_SCENARIOS, SUPPORTED, Settings
from bench.sys_celery import CelerySystem
from bench.sys_compat import CompatSystem
from bench.sys_dramatiq import DramatiqSystem
from bench.sys_kombu import KombuSystem
from bench.sys_pynenc import EmbeddedPynenc, SubprocessPynenc
from bench.system import System, Transport
from bench.transports import open_transport, redis_commands


def make_system(name: str, transport: Transport, settings: Settings) -> System:
    if name == "pynenc":
        embedded = transport.name == "embedded"
        return (EmbeddedPynenc if embedded else SubprocessPynenc)(transport, settings)
    if name == "celery":
        return CelerySystem(transport, settings)
    if name == "compat":
        return CompatSystem(transport, settings)
    if name == "dramatiq":
        return DramatiqSystem(transport, settings)
    return KombuSystem(transport, settings)


def rotated(items: list[str], by: int) -> list[str]:
    if not items:
        return items
    shift = by % len(items)
    return items[shift:] + items[:shift]


def run(settings: Settings, report: Report, log_dir: Path) -> None:
    """Every selected scenario on every selected transport, recorded in ``report``."""
    if "sync" in settings.scenarios:
        run_sync(settings, report)
    scenarios = [s for s in settings.scenarios if s in DISTRIBUTED_SCENARIOS]
    if not scenarios:
        return
    for transport_name in settings.transports:
        systems = [s for s in settings.systems if s in SUPPORTED[transport_name]]
        if not systems:
            continue
        report.say(f"\n== {transport_name}: {', '.join(systems)}")
        try:
            with open_transport(transport_name, report.machine, log_dir) as transport:
                run_transport(transport, systems, scenarios, settings, report)
        except Unavailable as exc:
            for system in systems:
                report.unavailable(transport_name, system, f"transport not available: {exc}")


def run_sync(settings: Settings, report: Report) -> None:
    report.say("\n== in-process: sync / eager mode")
    found = sync_overhead.variants(settings.systems)
    lane = Lane("bench-sync")
    try:
        for round_no in range(settings.rounds):
            for system in rotated(list(found), round_no):
                job = partial(sync_overhead.measure_system, found[system], settings.sync_calls)
                meter = CpuMeter()
                meter.start()
                try:
                    metrics = lane.call(job, settings.scenario_timeout)
                    metrics.update(meter.stop())
                except MeasurementTimeout as exc:
                    report.failed("in-process", system, "sync", round_no, "timeout", str(exc))
                    continue
                report.measured("in-process", system, "sync", round_no, metrics)
    finally:
        lane.close()


def run_transport(
    transport: Transport,
    systems: list[str],
    scenarios: list[str],
    settings: Settings,
    report: Report,
) -> None:
    started: dict[str, System] = {}
    try:
        for name in systems:
            system = make_system(name, transport, settings)
            reason = _start(system, settings)
            if reason is None:
                started[name] = system
            else:
                report.unavailable(transport.name, name, reason)
        overhead = _count_overhead(transport)
        for round_no in range(settings.rounds):
            for scenario in scenarios:
                for name in rotated(list(started), round_no):
                    if scenario not in started[name].scenarios:
                        continue
                    _measure(started[name], scenario, round_no, settings, report, overhead)
    finally:
        for system in started.values():
            system.stop()
            system.lane.close()


def _start(system: System, settings: Settings) -> str | None:
    """Start and warm ``system``; the reason it cannot run, or ``None``."""
    bound = settings.start_timeout + settings.stop_grace + 5
    try:
        system.lane.call(system.start, bound)
        system.lane.call(system.warm_up, settings.scenario_timeout)
        return None
    except Unavailable as exc:
        reason = str(exc)
    except MeasurementTimeout as exc:
        reason = f"did not start: {exc}"
    except Exception as exc:
        reason = f"failed at start: {type(exc).__name__}: {exc}"
    system.stop()
    return reason


def _count_overhead(transport: Transport) -> int | None:
    """Commands that counting itself adds (the INFO call and the connection's setup)."""
    if transport.redis_url is None:
        return None
    first = redis_commands(transport.redis_url)
    return redis_commands(transport.redis_url) - first


def _measure(
    system: System,
    scenario: str,
    round_no: int,
    settings: Settings,
    report: Report,
    overhead: int | None,
) -> None:
    where = system.transport.name
    if system.broken is not None:
        report.failed(where, system.name, scenario, round_no, "skipped", system.broken)
        return
    if scenario in system.missing:
        return  # reported once, in the first round
    size = settings.size(scenario)
    method: Callable[[int, float], Metrics] = getattr(system, scenario)
    redis_url = system.transport.redis_url
    try:
        system.lane.call(system.reset, settings.scenario_timeout)
        before = redis_commands(redis_url) if redis_url else 0
        meter = CpuMeter()
        meter.start()
        deadline = time.monotonic() + settings.scenario_timeout
        metrics = system.lane.call(lambda: method(size, deadline), settings.scenario_timeout + 1)
        metrics.update(meter.stop())
        if redis_url and overhead is not None:
            tasks = metrics.get("tasks") or metrics.get("calls") or size
            metrics["redis_cmds_per_task"] = (redis_commands(redis_url) - before - overhead) / tasks
    except Unavailable as exc:  # this system cannot run this scenario (yet): not a failure
        system.missing.add(scenario)
        report.unavailable(where, system.name, str(exc), scenario)
        return
    except Exception as exc:
        status = "timeout" if isinstance(exc, MeasurementTimeout) else "error"
        report.failed(
            where, system.name, scenario, round_no, status, f"{type(exc).__name__}: {exc}"
        )
        _restart(system, settings, report)
        return
    report.measured(where, system.name, scenario, round_no, metrics)


def _restart(system: System, settings: Settings, report: Report) -> None:
    report.say(f"   restarting {system.label}")
    system.stop()
    system.lane.close()
    reason = _start(system, settings)
    if reason is not None:
        system.broken = f"could not restart after a failure: {reason}"
        report.say(f"   {system.label}: {system.broken}")
