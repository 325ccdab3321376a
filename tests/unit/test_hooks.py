"""The hook registry (``app.hooks``): order, disconnect, errors logged, veto, no-op path."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from pynenc import Hooks, PublishVetoError, Pynenc
from pynenc.exceptions import ConfigError
from pynenc.hooks import EVENTS


def test_an_app_starts_with_no_handler_on_any_event() -> None:
    hooks = Pynenc().hooks
    assert isinstance(hooks, Hooks)
    for event in EVENTS:
        assert getattr(hooks, event) == ()  # the call path reads this, falsy: nothing done


def test_handlers_are_called_in_registration_order() -> None:
    hooks = Hooks()
    calls: list[tuple[str, Any]] = []
    hooks.connect("run_start", lambda invocation: calls.append(("first", invocation)))

    @hooks.on_run_start
    def second(invocation: Any) -> None:
        calls.append(("second", invocation))

    hooks.connect("run_start", lambda invocation: calls.append(("third", invocation)))
    hooks.emit("run_start", "inv")
    assert calls == [("first", "inv"), ("second", "inv"), ("third", "inv")]


def test_each_decorator_connects_to_its_event_and_returns_the_handler() -> None:
    hooks = Hooks()
    decorators = {
        "before_publish": hooks.on_before_publish,
        "after_publish": hooks.on_after_publish,
        "run_start": hooks.on_run_start,
        "run_end": hooks.on_run_end,
        "run_dropped": hooks.on_run_dropped,
        "runner_start": hooks.on_runner_start,
        "runner_stop": hooks.on_runner_stop,
    }
    assert set(decorators) == set(EVENTS)
    for event, decorate in decorators.items():

        def handler(*args: Any) -> None:
            pass

        assert decorate(handler) is handler
        assert getattr(hooks, event) == (handler,)


def test_connecting_a_handler_twice_calls_it_once() -> None:
    hooks = Hooks()
    seen: list[Any] = []
    handler = seen.append
    hooks.connect("runner_start", handler)
    hooks.connect("runner_start", handler)
    hooks.emit("runner_start", "runner")
    assert seen == ["runner"]


def test_disconnect_stops_calling_the_handler_and_says_whether_it_was_connected() -> None:
    hooks = Hooks()
    seen: list[str] = []

    def keep(outcome: str) -> None:
        seen.append(f"keep {outcome}")

    def drop(outcome: str) -> None:
        seen.append(f"drop {outcome}")

    hooks.connect("runner_stop", keep)
    hooks.connect("runner_stop", drop)
    assert hooks.disconnect("runner_stop", drop) is True
    assert hooks.disconnect("runner_stop", drop) is False
    assert hooks.disconnect("runner_start", keep) is False  # connected elsewhere only
    hooks.emit("runner_stop", "x")
    assert seen == ["keep x"]
    assert hooks.runner_stop == (keep,)


def test_clear_disconnects_one_event_or_all() -> None:
    hooks = Hooks()
    for event in EVENTS:
        hooks.connect(event, print)
    hooks.clear("run_end")
    assert hooks.run_end == () and hooks.run_start == (print,)
    hooks.clear()
    assert all(getattr(hooks, event) == () for event in EVENTS)


def test_an_unknown_event_names_the_valid_ones_and_the_likely_one() -> None:
    hooks = Hooks()
    with pytest.raises(ConfigError, match=r"'run_ends'.*run_start, run_end.*'run_end'\?"):
        hooks.connect("run_ends", print)
    with pytest.raises(ConfigError, match="Unknown hook event 'nope'"):
        hooks.disconnect("nope", print)


def test_a_handler_must_be_callable() -> None:
    with pytest.raises(ConfigError, match="must be callable"):
        Hooks().connect("run_end", "not a function")


def test_a_failing_handler_is_logged_with_its_name_and_event_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = Hooks()
    seen: list[str] = []

    def broken(invocation: Any, outcome: Any) -> None:
        raise RuntimeError("handler bug")

    hooks.connect("run_end", broken)
    hooks.connect("run_end", lambda invocation, outcome: seen.append(outcome))
    with caplog.at_level(logging.ERROR, logger="pynenc.hooks"):
        hooks.emit("run_end", "inv", "done")  # does not raise
    assert seen == ["done"]
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "test_hooks" in record.getMessage() and "broken" in record.getMessage()
    assert "on run_end raised" in record.getMessage()
    assert record.exc_info is not None and "handler bug" in str(record.exc_info[1])


def test_only_a_before_publish_handler_can_veto(caplog: pytest.LogCaptureFixture) -> None:
    hooks = Hooks()
    later: list[Any] = []

    def veto(*args: Any) -> None:
        raise PublishVetoError("not now")

    for event in EVENTS:
        hooks.connect(event, veto)
        hooks.connect(event, later.append)
    with pytest.raises(PublishVetoError, match="not now"):
        hooks.emit("before_publish", ["inv"])
    assert later == []  # the veto stops the handlers after it
    with caplog.at_level(logging.ERROR, logger="pynenc.hooks"):
        for event in EVENTS[1:]:
            hooks.emit(event, "x")
    assert later == ["x"] * (len(EVENTS) - 1)
    assert len(caplog.records) == len(EVENTS) - 1
    assert "only before_publish handlers can refuse a call" in caplog.records[0].getMessage()


def test_base_exceptions_from_a_handler_are_not_swallowed() -> None:
    hooks = Hooks()

    def interrupt(runner: Any) -> None:
        raise KeyboardInterrupt

    hooks.connect("runner_start", interrupt)
    with pytest.raises(KeyboardInterrupt):
        hooks.emit("runner_start", "runner")


def test_connecting_while_emitting_from_other_threads_is_safe() -> None:
    hooks = Hooks()
    stop = threading.Event()
    count = 0

    def emit_loop() -> None:
        nonlocal count
        while not stop.is_set():
            hooks.emit("run_start", "inv")
            count += 1

    thread = threading.Thread(target=emit_loop)
    thread.start()
    handlers = [lambda invocation, i=i: None for i in range(200)]
    for handler in handlers:
        hooks.connect("run_start", handler)
    for handler in handlers[::2]:
        assert hooks.disconnect("run_start", handler)
    stop.set()
    thread.join(10)
    assert hooks.run_start == tuple(handlers[1::2])
    assert count > 0


def test_repr_counts_handlers() -> None:
    hooks = Hooks()
    hooks.connect("run_end", print)
    assert "run_end=1" in repr(hooks) and "run_start=0" in repr(hooks)
