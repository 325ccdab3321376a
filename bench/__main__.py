"""``python -m bench``: measure pynenc, Celery, dramatiq and raw kombu side by side in one run.

Prints the ratios first, then absolute figures, and writes every figure to a JSON file
(``bench/results/latest.json`` by default). See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.machine import describe_machine, load_average
from bench.report import Report
from bench.run import run
from bench.settings import (
    DEFAULT_SCENARIOS,
    SCENARIO_GROUPS,
    SCENARIOS,
    SYSTEMS,
    TRANSPORTS,
    WORKER_THREADS,
    Settings,
    quick_settings,
)

#: how each system is set up, stored in the JSON report next to the figures
DESCRIPTIONS = {
    "pynenc": (
        "embedded: Pynenc() defaults (memory:// broker, memory state), ThreadRunner with 8 "
        "threads in a thread of the bench process; redis/rabbitmq/sqlite: runner subprocess "
        f"(python -c 'import bench.tasks_pynenc as m; m.app.runner.run()', runner.threads="
        f"{WORKER_THREADS}), broker and state_backend URLs from PYNENC__* variables, other "
        "options at their defaults; caller in the bench process"
    ),
    "celery": (
        f"worker subprocess: celery worker --pool threads --concurrency {WORKER_THREADS}, "
        "-O default, prefetch multiplier 4, acks early, gossip/mingle/heartbeat on; Redis "
        "result backend; only broker_connection_retry_on_startup changed; caller in the "
        "bench process"
    ),
    "compat": (
        "pynenc_celery_compat: a compat Celery app in the bench process calling "
        "noop.delay()/echo.delay(i).get() (chord/chain: the layer's canvas, as for Celery); "
        "runner subprocess (python -c 'import "
        f"bench.tasks_compat as m; m.app.pynenc.runner.run()', runner.threads={WORKER_THREADS}"
        "), broker and state backend from the Celery app's broker_url/result_backend"
    ),
    "dramatiq": (
        "worker subprocess: python -m dramatiq bench.tasks_dramatiq:setup --processes 1 "
        f"--threads {WORKER_THREADS} (--worker-shutdown-timeout 5000); RedisBroker on redis, "
        "RabbitmqBroker on rabbitmq; Results middleware with RedisBackend on the transport's "
        "Redis (result TTL 1 h), GroupCallbacks (barrier in that Redis) for the chord, whose "
        "body reads its members' results itself; chain: pipeline; other options at "
        "dramatiq's defaults; caller in the bench process"
    ),
    "kombu": (
        "one publisher (bench process) and one consumer (subprocess on servers, thread on "
        "memory:// with polling_interval 1 ms), ~200-byte JSON messages on the default "
        "exchange, consumer acks each message (prefetch 32), replies on a private queue "
        "consumed without acks"
    ),
}


def _choices(
    text: str,
    valid: tuple[str, ...],
    option: str,
    groups: dict[str, tuple[str, ...]] | None = None,
) -> tuple[str, ...]:
    groups = groups or {}
    named = [item.strip() for item in text.split(",") if item.strip()]
    chosen = tuple(dict.fromkeys(x for item in named for x in groups.get(item, (item,))))
    unknown = [item for item in chosen if item not in valid]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"{option}: unknown {', '.join(unknown) or '(empty)'}; choose from "
            f"{','.join((*valid, *groups))}"
        )
    return chosen


def parse_args(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="default: %(default)s")
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="default: %(default)s")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help="default: %(default)s (canvas = chord,chain)",
    )
    parser.add_argument("-n", type=int, help="tasks per throughput/parallel run (2000; quick 200)")
    parser.add_argument("--roundtrips", type=int, help="calls per roundtrip run (500; quick 100)")
    parser.add_argument("--sync-calls", type=int, help="calls per sync run (10000; quick 2000)")
    parser.add_argument("--chord-size", type=int, help="chord header members (1000; quick 200)")
    parser.add_argument("--chain-length", type=int, help="chain steps (100; quick 20)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (3; quick 1)")
    parser.add_argument("--timeout", type=float, help="bound of one measurement, s (120)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about two minutes")
    parser.add_argument("--json", default="bench/results/latest.json", help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        chosen = {
            "systems": _choices(args.systems, SYSTEMS, "--systems"),
            "transports": _choices(args.transports, TRANSPORTS, "--transports"),
            "scenarios": _choices(args.scenarios, SCENARIOS, "--scenarios", SCENARIO_GROUPS),
        }
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    sizes = {
        "n": args.n,
        "roundtrips": args.roundtrips,
        "sync_calls": args.sync_calls,
        "chord_size": args.chord_size,
        "chain_length": args.chain_length,
        "rounds": args.rounds,
        "scenario_timeout": args.timeout,
    }
    for name, value in sizes.items():
        if value is not None and value < 1:
            parser.error(f"{name} must be at least 1")
    overrides = {k: v for k, v in sizes.items() if v is not None}
    overrides.update(chosen, json_path=args.json)
    return quick_settings(**overrides) if args.quick else Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    report = Report(settings, describe_machine())
    started = time.monotonic()
    json_path = Path(settings.json_path)
    report.say(
        f"bench: systems={','.join(settings.systems)} transports={','.join(settings.transports)}"
        f" scenarios={','.join(settings.scenarios)} n={settings.n}"
        f" roundtrips={settings.roundtrips} chord={settings.chord_size}"
        f" chain={settings.chain_length} rounds={settings.rounds}"
        f" ({report.machine['cpus_usable']} CPUs, Python {report.machine['python']})"
    )
    load = report.machine["loadavg_at_start"]
    if load and load[0] > 0.5:
        report.say(
            f"warning: the machine is busy (load average {load[0]:.2f} before the run): "
            "absolute figures will be low; ratios (interleaved rounds) suffer less"
        )
    try:
        run(settings, report, json_path.parent / "logs")
    except KeyboardInterrupt:
        report.say("\ninterrupted: reporting what was measured so far")
    report.machine["loadavg_at_end"] = load_average()
    report.say("\n" + report.tables())
    report.to_json(json_path, DESCRIPTIONS)
    report.say(f"\nJSON: {json_path}   ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
