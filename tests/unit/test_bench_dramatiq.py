"""dramatiq as a peer of the benchmark (``bench/``): the command line accepts it, it runs on
the server transports only, the report rates pynenc against it, and its broker is chosen by
the transport's URL. No server: the run itself is ``tests/integration/test_bench_dramatiq.py``."""

from __future__ import annotations

import pytest

from bench.__main__ import DESCRIPTIONS, parse_args
from bench.report import Report
from bench.settings import SUPPORTED, SYSTEMS, Settings
from bench.tasks_dramatiq import make_broker, pika_url


def test_dramatiq_is_a_system_of_the_command_line() -> None:
    settings = parse_args(["--systems", "pynenc,dramatiq", "--transports", "redis,rabbitmq"])

    assert settings.systems == ("pynenc", "dramatiq")
    assert "dramatiq" in SYSTEMS
    assert "dramatiq" in DESCRIPTIONS


def test_dramatiq_runs_on_redis_and_rabbitmq_only() -> None:
    assert [t for t, systems in SUPPORTED.items() if "dramatiq" in systems] == [
        "redis",
        "rabbitmq",
    ]


def test_an_unknown_system_is_refused_with_the_valid_ones(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        parse_args(["--systems", "dramatiqq"])

    err = capsys.readouterr().err
    assert "unknown dramatiqq" in err
    assert "dramatiq" in err.split("choose from")[1].strip().split(",")


def _report(systems: tuple[str, ...]) -> Report:
    settings = Settings(
        systems=systems,
        transports=("redis",),
        scenarios=("throughput", "roundtrip"),
        rounds=1,
    )
    report = Report(settings, machine={})
    report.say = lambda line: None  # type: ignore[method-assign]
    figures = {
        "pynenc": (1000.0, 3.0, 12.0),
        "celery": (250.0, 6.0, 18.0),
        "dramatiq": (800.0, 9.0, 16.0),
    }
    for system in systems:
        rate, p50, cmds = figures[system]
        report.measured(
            "redis",
            system,
            "throughput",
            0,
            {"complete_per_s": rate, "enqueue_per_s": rate * 2, "redis_cmds_per_task": cmds},
        )
        report.measured("redis", system, "roundtrip", 0, {"p50_ms": p50, "p99_ms": p50 * 2})
    return report


def test_the_report_rates_pynenc_against_dramatiq() -> None:
    ratios = _report(("pynenc", "celery", "dramatiq")).ratios()
    versus = {(r["scenario"], r["metric"]): r for r in ratios if r["versus"] == "dramatiq"}

    rate = versus[("throughput", "completed/s")]
    assert rate["times_better"] == pytest.approx(1000 / 800)
    assert (rate["pynenc"], rate["other"]) == (1000.0, 800.0)
    # a latency: other / pynenc, so above 1 still means pynenc ahead
    assert versus[("roundtrip", "p50 ms")]["times_better"] == pytest.approx(9.0 / 3.0)


def test_the_tables_show_a_dramatiq_column_and_its_redis_commands() -> None:
    tables = _report(("pynenc", "celery", "dramatiq")).tables()
    ratio_table, absolute = tables.split("ABSOLUTE")

    assert "vs dramatiq" in ratio_table
    assert "1.25x" in ratio_table and "3.00x" in ratio_table
    header = next(line for line in absolute.splitlines() if "transport" in line)
    assert header.split()[-1] == "dramatiq"
    cmds = next(line for line in absolute.splitlines() if "redis cmds/task" in line)
    assert cmds.split()[-3:] == ["12.0", "18.0", "16.0"]  # pynenc, Celery, dramatiq


def test_a_run_without_dramatiq_has_no_dramatiq_column() -> None:
    tables = _report(("pynenc", "celery")).tables()

    assert "dramatiq" not in tables


def test_the_broker_follows_the_transport_url() -> None:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.brokers.redis import RedisBroker

    # neither connects before it is used
    assert isinstance(make_broker("redis://127.0.0.1:1/0"), RedisBroker)
    assert isinstance(make_broker("amqp://guest:guest@127.0.0.1:1//"), RabbitmqBroker)
    with pytest.raises(ValueError, match=r"sqlite:// .*redis:// or amqp://"):
        make_broker("sqlite:////tmp/broker.sqlite")


def test_kombu_default_vhost_is_spelt_for_pika() -> None:
    assert (
        pika_url("amqp://guest:guest@127.0.0.1:5672//") == "amqp://guest:guest@127.0.0.1:5672/%2F"
    )
    assert pika_url("amqp://u:p@h:1/other") == "amqp://u:p@h:1/other"
