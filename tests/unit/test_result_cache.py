"""The result cache's rules that need no runner: the key, the option checks, the TTL."""

from __future__ import annotations

import json

import pytest

from pynenc import ConfigError, Pynenc
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.orchestrator import result_cache
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from tests.apps import data


def test_the_key_leaves_out_disabled_arguments() -> None:
    task = data.cached_square
    quiet = result_cache.cache_key(task, {"x": "3", "counter": '"c"', "verbose": "false"})
    loud = result_cache.cache_key(task, {"x": "3", "counter": '"c"', "verbose": "true"})
    other = result_cache.cache_key(task, {"x": "4", "counter": '"c"', "verbose": "false"})
    assert quiet == loud != other
    assert quiet.startswith("tests.apps.data.cached_square:")
    plain = result_cache.cache_key(data.cached_fail, {"counter": '"c"'})
    assert plain != result_cache.cache_key(data.cached_fail, {"counter": '"d"'})


def test_disabled_arguments_must_be_parameters() -> None:
    app = Pynenc(app_id="unit-cache-options")
    with pytest.raises(ConfigError, match=r"disable_cache_args names 'verbos'.*x, verbose"):
        app.task(call_result_cache=True, disable_cache_args=("verbos",))(_square)


def _square(x: int, verbose: bool = False) -> int:
    return x * x


def test_ttl_option_values() -> None:
    app = Pynenc(app_id="unit-cache-ttl")
    conf = app.conf.task_config("m.f", {"call_result_cache_ttl": "2.5"})
    assert conf.call_result_cache_ttl == 2.5
    assert (
        app.conf.task_config("m.f", {"call_result_cache_ttl": "none"}).call_result_cache_ttl is None
    )
    for bad in (0, -1, "soon"):
        with pytest.raises(
            ConfigError, match="call_result_cache_ttl must be a number of seconds > 0"
        ):
            app.conf.task_config("m.f", {"call_result_cache_ttl": bad})


def test_an_entry_older_than_the_ttl_is_a_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries are judged by the reader with its task's TTL (the clock is faked here)."""
    app = data.app
    app.reset_components()  # memory:// state (this test runs no runner)
    app.conf.update(broker_url="memory://", state_backend_url="memory://")
    app.purge()
    task = data.cached_square
    call_args = task.args(2, "c")
    from pynenc.call import Call

    call = Call(task, call_args)
    backend = app.state_backend
    record = InvocationRecord("cached-inv", task.task_id.key, call.serialized_arguments)
    backend.register([record], 1000.0)
    for target in (InvocationStatus.RUNNING, InvocationStatus.SUCCESS):
        backend.set_status(
            StatusUpdate(
                "cached-inv", frozenset(InvocationStatus), StatusEntry(target, 1000.0), result="4"
            )
        )
    key = result_cache.cache_key(task, call.serialized_arguments)
    backend.put_value(result_cache.NAMESPACE, key, json.dumps({"id": "cached-inv", "at": 1000.0}))
    monkeypatch.setattr(result_cache.time, "time", lambda: 1060.0)
    [hit] = result_cache.lookup(task, [call])
    assert isinstance(hit, DistributedInvocation) and hit.invocation_id == "cached-inv"
    assert hit.result == 4
    monkeypatch.setattr(task, "conf", _with(task, call_result_cache_ttl=30.0))
    assert result_cache.lookup(task, [call]) == [None]
    monkeypatch.setattr(task, "conf", _with(task, call_result_cache_ttl=120.0))
    assert result_cache.lookup(task, [call])[0] is not None
    app.purge()


def _with(task: object, **values: object) -> object:
    from dataclasses import replace

    return replace(task.conf, **values)  # type: ignore[attr-defined]


def test_a_task_without_the_option_never_reads_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    app = data.app
    app.reset_components()
    app.conf.update(broker_url="memory://", state_backend_url="memory://")
    app.purge()

    def no_lookup(*args: object) -> None:
        raise AssertionError("an uncached task read the result cache")

    monkeypatch.setattr(result_cache, "lookup", no_lookup)
    invocation = data.measure("x", 1)  # registered and published, never run here
    assert invocation.status is InvocationStatus.REGISTERED
    app.purge()
