"""A task with its own serializer (task option ``serializer``), beside JSON tasks, on real
runners: arguments and results travel with it, and every reader (the waiter, a handle from
the id in a process without the task, ``pynenc status``) decodes with it untold. What the
app does not accept (``accept_serializers``) is refused before anything is decoded."""

from __future__ import annotations

import operator
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import ConfigError, SerializationError
from tests.apps import seams
from tests.integration.seams_helpers import DEPLOYMENTS, cli, deployed

S = InvocationStatus


@pytest.mark.parametrize(("kind", "runner_cls"), DEPLOYMENTS)
def test_a_pickle_task_beside_json_tasks(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with deployed(kind, runner_cls, tmp_path, request) as (app, dep, runner):
        log = runner.log_tail if runner is not None else str
        invocation = seams.apply(operator.neg, 5)
        func, value = invocation.get_result(timeout=120)
        assert func is operator.neg and value == -5, log()
        assert seams.add(1, 2).get_result(timeout=120) == 3
        # the record names the task's serializer; a JSON task's names none (the app's)
        stored = app.state_backend.get(invocation.invocation_id)
        assert stored is not None and stored.serializer == "pickle"
        plain = seams.add(2, 3)
        assert plain.get_result(timeout=120) == 5
        plain_record = app.state_backend.get(plain.invocation_id)
        assert plain_record is not None and plain_record.serializer is None
        # nested pickle calls made by a running task
        assert seams.fan_out([1, 2]).get_result(timeout=120) == [
            (operator.neg, -1),
            (operator.neg, -2),
        ]
        # parallelize: one by one, and the batch path with common arguments encoded once
        group = seams.apply.parallelize([(abs, -4), (str, 7)])
        assert list(group.results) == [(abs, 4), (str, "7")]
        batch = seams.apply.parallelize([{"value": v} for v in range(3)], {"func": operator.neg})
        assert list(batch.results) == [(operator.neg, 0), (operator.neg, -1), (operator.neg, -2)]
        # a handle from the id alone, in an app object that registers no task
        bare = Pynenc(
            app_id=app.app_id,
            config_values={
                "broker_url": app.conf.broker_url,
                "state_backend_url": app.conf.state_backend_url,
                "accept_serializers": ["pickle"],
            },
        )
        by_id = bare.invocation(invocation.invocation_id)
        assert by_id.get_result(timeout=60) == (operator.neg, -5)
        assert by_id.arguments.kwargs == {"func": operator.neg, "value": 5}
        if dep is not None:  # pynenc status (another process) decodes it too
            shown = cli(dep, "status", invocation.invocation_id)
            assert shown.returncode == 0, shown.stderr
            assert "serializer  pickle" in shown.stdout
            assert "result      (<built-in function neg>, -5)" in shown.stdout, shown.stdout
        bare.reset_components()


@pytest.mark.parametrize(
    ("kind", "runner_cls"), [("sqlite", "ThreadRunner"), ("redis", "ProcessRunner")]
)
def test_a_runner_that_does_not_accept_it_refuses_before_decoding(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The caller accepts pickle, the runner does not: the invocation FAILS naming the
    option, and the pickle was never loaded (its reducer would have left a file)."""
    tripwire = tmp_path / "unpickled"
    env = {"PYNENC__ACCEPT_SERIALIZERS": ""}
    with deployed(kind, runner_cls, tmp_path, request, runner_env=env) as (_, _, runner):
        assert runner is not None
        invocation = seams.swallow(seams.Tripwire(str(tripwire)))
        with pytest.raises(SerializationError, match="accept_serializers") as raised:
            invocation.get_result(timeout=120)
        assert "serializer 'pickle' is not accepted" in str(raised.value)
        assert invocation.status is S.FAILED
        assert not tripwire.exists(), runner.log_tail()
        assert seams.add(1, 1).get_result(timeout=120) == 2  # JSON tasks run on
        assert "cannot run" in runner.log_tail()


def test_a_waiter_that_does_not_accept_it_refuses_the_result(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with deployed("memory", "ThreadRunner", tmp_path, request) as (app, _, _):
        invocation = seams.apply(operator.neg, 1)
        assert invocation.get_result(timeout=60) == (operator.neg, -1)
        strict = Pynenc(app_id=app.app_id)  # memory://, same app id: the same store
        by_id = strict.invocation(invocation.invocation_id)
        with pytest.raises(SerializationError, match="accept_serializers"):
            by_id.get_result(timeout=10)
        with pytest.raises(SerializationError, match="accept_serializers"):
            _ = by_id.arguments


def test_a_call_of_a_task_whose_serializer_is_not_accepted_fails_at_once() -> None:
    """Refused in the caller, naming the option and the task: nothing is registered."""
    app = Pynenc(app_id="tests-seams-strict")
    task = app.create_task(seams.swallow.func, {"serializer": "pickle"})
    with pytest.raises(ConfigError, match=r"tests\.apps\.seams\.swallow.*accept_serializers"):
        task(1)
    assert app.state_backend.recent(10) == []
    app.conf.accept_serializers = ["pickle"]
    with app.running_in_background(stop_timeout=30):
        assert task(1).get_result(timeout=30) == "1"
