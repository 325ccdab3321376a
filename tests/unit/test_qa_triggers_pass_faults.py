"""QA of triggers: a trigger pass that fails part way (the state backend out of reach, the
process ending) loses nothing and fires nothing twice; a backlog is read without pauses;
an outcome noted that never ends is let go. Faults are injected into the memory backend;
the pass is run directly (what the lease holder runs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import Pynenc, TriggerBuilder
from pynenc.exceptions import StateBackendUnavailableError
from pynenc.testing import in_memory
from pynenc.trigger import evaluation
from pynenc.trigger.evaluation import BATCH, CURSORS, PENDING

app = Pynenc(app_id="tests-qa-trigger-faults")
NOW = [1_000_000.0]
app.trigger.clock = lambda: NOW[0]


@app.task(triggers=TriggerBuilder().on_interval(10))
def ticking() -> None:
    pass


@app.task(triggers=TriggerBuilder().on_event("paid"))
def on_paid() -> None:
    pass


@app.task(triggers=TriggerBuilder().on_event("left").on_event("right").with_logic("and"))
def both() -> None:
    pass


@app.task
def watched() -> None:
    pass


@app.task(triggers=TriggerBuilder().on_success(watched))
def after_watched() -> None:
    pass


@pytest.fixture
def memory_app() -> Iterator[Pynenc]:
    NOW[0] = 1_000_000.0
    with in_memory(app):
        app.trigger.lease_lost()
        yield app
        app.trigger.lease_lost()


def _fired(task: str) -> int:
    return next(s.fired for s in app.trigger.status() if s.definition.task_key.endswith(task))


def _registered(task: str) -> list[str]:
    return [r.invocation_id for r in app.state_backend.recent(100, task_id=f"{__name__}.{task}")]


def _failing_once(
    monkeypatch: pytest.MonkeyPatch, obj: Any, name: str, error: BaseException
) -> None:
    original = getattr(obj, name)
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, failing)


def test_a_backend_outage_while_firing_repeats_the_pass(
    memory_app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registration of the triggered invocations fails (the backend out of reach):
    the tick and the event fire at the next pass, once (they were dropped: the tick's
    cursor had moved on in memory, the event's in the backend)."""
    app.trigger.run_pass()  # the interval trigger is first seen
    NOW[0] += 10
    app.trigger.emit_event("paid", {})
    outage = StateBackendUnavailableError("the backend is out of reach")
    _failing_once(monkeypatch, app.state_backend, "register", outage)
    with pytest.raises(StateBackendUnavailableError):
        app.trigger.run_pass()
    app.trigger.run_pass()
    app.trigger.run_pass()
    assert (len(_registered("ticking")), len(_registered("on_paid"))) == (1, 1)
    assert (_fired("ticking"), _fired("on_paid")) == (1, 1)
    assert all(s.last_error is None for s in app.trigger.status())


def _dying_at(monkeypatch: pytest.MonkeyPatch, namespace: str) -> Any:
    """The process ends at the first ``put_value`` into ``namespace``: the original."""
    backend = app.state_backend
    original = backend.put_value

    def dying(space: str, key: str, value: str, *args: Any, **kwargs: Any) -> Any:
        if space == namespace:
            raise KeyboardInterrupt("the process ends here")
        return original(space, key, value, *args, **kwargs)

    monkeypatch.setattr(backend, "put_value", dying)
    return original


def test_an_and_trigger_repeated_after_a_crash_fires_once(
    memory_app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process ends after the pass stored the "and" progress, before the cursors:
    the next pass reads the same events again and must not pair them anew."""
    app.trigger.emit_event("left", 1)
    app.trigger.emit_event("right", 2)
    app.trigger.emit_event("left", 3)  # waits for the next "right"
    original = _dying_at(monkeypatch, CURSORS)
    with pytest.raises(KeyboardInterrupt):
        app.trigger.run_pass()
    monkeypatch.setattr(app.state_backend, "put_value", original)
    app.trigger.run_pass()  # another lease holder: from what is stored
    assert len(_registered("both")) == 1
    app.trigger.emit_event("right", 4)
    app.trigger.run_pass()
    assert len(_registered("both")) == 2  # the waiting "left" with the new "right"
    assert _fired("both") == 2


@pytest.mark.parametrize("dies_before", [evaluation.STATE, CURSORS])
def test_a_firing_repeated_after_a_crash_is_counted_once(
    memory_app: Pynenc, monkeypatch: pytest.MonkeyPatch, dies_before: str
) -> None:
    """The holder dies after firing, before storing the triggers' states (the firing is
    counted by the next holder, which finds it registered) or after storing them, before
    the cursors (the next holder repeats the pass: counted already)."""
    app.trigger.run_pass()  # the interval trigger is first seen
    NOW[0] += 10
    app.trigger.emit_event("paid", {})
    original = _dying_at(monkeypatch, dies_before)
    with pytest.raises(KeyboardInterrupt):
        app.trigger.run_pass()
    assert (len(_registered("ticking")), len(_registered("on_paid"))) == (1, 1)
    monkeypatch.setattr(app.state_backend, "put_value", original)
    app.trigger.lease_lost()  # another lease holder: from what is stored
    app.trigger.run_pass()
    assert (len(_registered("ticking")), len(_registered("on_paid"))) == (1, 1)
    assert (_fired("ticking"), _fired("on_paid")) == (1, 1)
    NOW[0] += 10
    app.trigger.emit_event("paid", {})
    app.trigger.run_pass()
    assert (_fired("ticking"), _fired("on_paid")) == (2, 2)


def test_a_full_batch_makes_the_next_pass_run_at_once(memory_app: Pynenc) -> None:
    """More events than one pass reads: the pass asks for the next one at once (not after
    ``runner.scheduler_poll``, or the interval's next tick), until the backlog is read."""
    app.trigger.run_pass()
    for n in range(BATCH + 10):
        app.trigger.emit_event("paid", n)
    assert app.trigger.run_pass() == 0.0
    assert app.trigger.run_pass() > 0.0
    assert _fired("on_paid") == BATCH + 10


def test_an_outcome_noted_that_never_ends_is_let_go(
    memory_app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note for an invocation that stays pending (registered, never run) is looked at for
    ``PENDING_PASSES`` passes, then dropped (it was kept, and read, forever)."""
    monkeypatch.setattr(evaluation, "PENDING_PASSES", 3)
    invocation = watched()
    app.trigger.note_outcome(invocation.invocation_id, watched.task_id.key)
    for _ in range(2):
        app.trigger.run_pass()
    assert app.state_backend.get_value(CURSORS, PENDING) == f'["{invocation.invocation_id}"]'
    app.trigger.run_pass()
    assert app.state_backend.get_value(CURSORS, PENDING) == "[]"
