"""Hooks: functions an app calls around publishing, running and runners (``app.hooks``).

Seven events, each with its handlers' arguments:

==================  ===========================================  ============================
event               handler arguments                            called
==================  ===========================================  ============================
``before_publish``  the invocations about to be published        by the caller, before they
                    (``DistributedInvocation``, a sequence)      are registered or sent
``after_publish``   the same invocations                         once the broker took them
``run_start``       the invocation about to run                  where it runs (runner thread
                                                                 or child process; sync mode)
``run_end``         the invocation and its :class:`Outcome`      after each attempt, before
                                                                 its outcome is recorded
``run_dropped``     the runner, the ``Envelope``, the status     by a runner that received an
                    (CANCELLED or EXPIRED) and ``stopped``       invocation cancelled/expired
                    (it was running: bool)                       before it started, or that
                                                                 stopped a cancelled one
``runner_start``    the runner                                   before it starts serving
``runner_stop``     the runner                                   once it has stopped
==================  ===========================================  ============================

Rules (see ``docs/hooks.md``):

- Handlers are called in registration order, in the thread doing the work; connecting a
  handler already connected to that event does nothing.
- A handler that raises is logged at ERROR on ``pynenc.hooks`` (its name, the event and
  the traceback) and the work goes on: a hook never fails a run or a publish. The one
  exception: a ``before_publish`` handler may refuse the call by raising
  :class:`~pynenc.exceptions.PublishVetoError`; nothing is then registered or sent, and
  the caller gets that error.
- Nothing registered, nothing spent: the call path reads one attribute (an empty tuple)
  and goes on.
- Worker processes import the app's module, so hooks registered there, at import time,
  are registered in every process; a hook registered later, in one process only (a test
  body, a script after the import), fires only in that process.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pynenc.exceptions import ConfigError, PublishVetoError
from pynenc.outcome import Outcome

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope
    from pynenc.invocation.base import BaseInvocation
    from pynenc.invocation.distributed import DistributedInvocation
    from pynenc.records import InvocationStatus
    from pynenc.runner.base import BaseRunner

logger = logging.getLogger("pynenc.hooks")

#: Every event, in the order of an invocation's life.
EVENTS = (
    "before_publish",
    "after_publish",
    "run_start",
    "run_end",
    "run_dropped",
    "runner_start",
    "runner_stop",
)

PublishHandler = Callable[["Sequence[DistributedInvocation[Any, Any]]"], object]
RunStartHandler = Callable[["BaseInvocation[Any, Any]"], object]
RunEndHandler = Callable[["BaseInvocation[Any, Any]", Outcome], object]
RunnerHandler = Callable[["BaseRunner"], object]
RunDroppedHandler = Callable[["BaseRunner", "Envelope", "InvocationStatus", bool], object]

H = TypeVar("H", bound=Callable[..., object])
PublishH = TypeVar("PublishH", bound=PublishHandler)
RunStartH = TypeVar("RunStartH", bound=RunStartHandler)
RunEndH = TypeVar("RunEndH", bound=RunEndHandler)
RunnerH = TypeVar("RunnerH", bound=RunnerHandler)
RunDroppedH = TypeVar("RunDroppedH", bound=RunDroppedHandler)


class Hooks:
    """The hook registry of one app.

    Each event's handlers are a tuple attribute (``hooks.run_end``), replaced as a whole
    when a handler is connected or disconnected: emitting reads a snapshot, lock-free.
    """

    __slots__ = (*EVENTS, "_lock")

    before_publish: tuple[PublishHandler, ...]
    after_publish: tuple[PublishHandler, ...]
    run_start: tuple[RunStartHandler, ...]
    run_end: tuple[RunEndHandler, ...]
    run_dropped: tuple[RunDroppedHandler, ...]
    runner_start: tuple[RunnerHandler, ...]
    runner_stop: tuple[RunnerHandler, ...]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        for event in EVENTS:
            setattr(self, event, ())

    def __repr__(self) -> str:
        counts = ", ".join(f"{event}={len(getattr(self, event))}" for event in EVENTS)
        return f"Hooks({counts})"

    # -- registration ------------------------------------------------------------------------

    def connect(self, event: str, handler: H) -> H:
        """Call ``handler`` on ``event`` (after the handlers already connected to it).

        :returns: ``handler``, so ``connect`` works as a decorator too.
        :raises ConfigError: ``event`` is not one of :data:`EVENTS`, or ``handler`` is not
            callable.
        """
        _check_event(event)
        if not callable(handler):
            raise ConfigError(
                f"app.hooks.connect({event!r}, {handler!r}): the handler must be callable"
            )
        with self._lock:
            handlers = getattr(self, event)
            if handler not in handlers:
                setattr(self, event, (*handlers, handler))
        return handler

    def disconnect(self, event: str, handler: Callable[..., object]) -> bool:
        """Stop calling ``handler`` on ``event``; ``False`` if it was not connected.

        :raises ConfigError: ``event`` is not one of :data:`EVENTS`.
        """
        _check_event(event)
        with self._lock:
            handlers = getattr(self, event)
            if handler not in handlers:
                return False
            setattr(self, event, tuple(h for h in handlers if h != handler))
        return True

    def clear(self, event: str | None = None) -> None:
        """Disconnect every handler of ``event``, or of every event."""
        events = EVENTS if event is None else (_check_event(event),)
        with self._lock:
            for name in events:
                setattr(self, name, ())

    # decorators, one per event: ``@app.hooks.on_run_end``

    def on_before_publish(self, handler: PublishH) -> PublishH:
        """Decorator: ``handler(invocations)`` before the calls are registered and sent;
        it may refuse them by raising :class:`~pynenc.exceptions.PublishVetoError`."""
        return self.connect("before_publish", handler)

    def on_after_publish(self, handler: PublishH) -> PublishH:
        """Decorator: ``handler(invocations)`` once the broker took them."""
        return self.connect("after_publish", handler)

    def on_run_start(self, handler: RunStartH) -> RunStartH:
        """Decorator: ``handler(invocation)`` before each attempt, where it runs
        (``task.invocation`` is set)."""
        return self.connect("run_start", handler)

    def on_run_end(self, handler: RunEndH) -> RunEndH:
        """Decorator: ``handler(invocation, outcome)`` after each attempt (success,
        failure or retry)."""
        return self.connect("run_end", handler)

    def on_run_dropped(self, handler: RunDroppedH) -> RunDroppedH:
        """Decorator: ``handler(runner, envelope, status, stopped)`` when a runner meets an
        invocation CANCELLED or EXPIRED before it started (``stopped`` False: it is not
        run), or stops a running one that was cancelled (``stopped`` True)."""
        return self.connect("run_dropped", handler)

    def on_runner_start(self, handler: RunnerH) -> RunnerH:
        """Decorator: ``handler(runner)`` when a runner starts serving."""
        return self.connect("runner_start", handler)

    def on_runner_stop(self, handler: RunnerH) -> RunnerH:
        """Decorator: ``handler(runner)`` when a runner has stopped."""
        return self.connect("runner_stop", handler)

    # -- emitting ----------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        """Call the handlers of ``event`` with ``args``, in registration order.

        Callers check the event's tuple first (``if hooks.run_end:``), so an event
        nobody listens to costs one attribute read. A handler's exception is logged and
        the next handler runs; only a ``before_publish`` handler's
        :class:`~pynenc.exceptions.PublishVetoError` propagates (the later handlers are
        then not called).
        """
        for handler in getattr(self, event):
            try:
                handler(*args)
            except PublishVetoError:
                if event == "before_publish":
                    raise
                logger.exception(
                    "Hook %s on %s raised PublishVetoError; only before_publish handlers "
                    "can refuse a call, ignored",
                    _name(handler),
                    event,
                )
            except Exception:
                logger.exception("Hook %s on %s raised; ignored", _name(handler), event)


def _check_event(event: str) -> str:
    if event not in EVENTS:
        close = difflib.get_close_matches(str(event), EVENTS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown hook event {event!r}; valid: {', '.join(EVENTS)}.{hint}")
    return event


def _name(handler: Callable[..., object]) -> str:
    """``module.qualname`` of a handler, for log lines."""
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", None) or repr(handler)
    return f"{module}.{name}" if module else name


__all__ = ["EVENTS", "Hooks", "Outcome", "PublishVetoError"]
