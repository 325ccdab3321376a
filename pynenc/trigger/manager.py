"""``app.trigger``: the triggers an app knows, events, and the pass the runners run.

Triggers are declared on tasks (``@app.task(triggers=...)``) and known to every process
that imports the task's module; the runner holding the services lease evaluates them (see
:mod:`pynenc.trigger.evaluation`). A runner imports the app's module and its
``task_modules`` at start, so put the modules of triggered tasks there.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import TaskDefinitionError
from pynenc.trigger.conditions import CronCondition, IntervalCondition
from pynenc.trigger.cron import CronSchedule
from pynenc.trigger.definition import TriggerDefinition, define
from pynenc.trigger.evaluation import EVENTS, OUTCOME_LOG_LEN, OUTCOMES, STATE, TriggerEvaluator

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.task import Task

logger = logging.getLogger("pynenc.trigger")


@dataclass(frozen=True)
class TriggerStatus:
    """What ``pynenc triggers`` shows of one trigger."""

    definition: TriggerDefinition
    next_due: float | None  #: seconds since the epoch; ``None``: not time-based
    last_fired: float | None
    last_invocation: str | None
    fired: int
    last_error: str | None
    #: whether a trigger pass has stored state for it (a time trigger is stored when a
    #: runner first evaluates it; an event or outcome trigger only once it fires)
    seen: bool = False


class TriggerManager:
    """The triggers of one app (``app.trigger``)."""

    def __init__(self, app: Pynenc) -> None:
        self.app = app
        self._definitions: dict[str, TriggerDefinition] = {}
        #: task keys whose outcomes some trigger watches: a runner notes their outcomes
        self.watched: frozenset[str] = frozenset()
        #: the time the trigger pass uses (tests inject a clock; seconds since the epoch)
        self.clock: Callable[[], float] = time.time
        self._evaluator: TriggerEvaluator | None = None
        self._sync_warned = False

    def register(self, task: Task[Any, Any], triggers: Any) -> None:
        """Declare ``triggers`` (a ``TriggerBuilder`` or a list of them) on ``task``,
        replacing the task's earlier ones.

        :raises TaskDefinitionError: see :func:`pynenc.trigger.definition.define`.
        """
        found = define(task, triggers)
        key = task.task_id.key
        kept = {i: d for i, d in self._definitions.items() if d.task_key != key}
        kept.update((d.trigger_id, d) for d in found)
        self._definitions = kept
        self.watched = frozenset().union(*(d.watches() for d in kept.values()))

    def definitions(self) -> list[TriggerDefinition]:
        """Every trigger this app knows, in declaration order."""
        return list(self._definitions.values())

    def emit_event(self, code: str, payload: Any = None) -> str:
        """Store an event; triggers declared ``on_event(code)`` fire with its payload (a
        JSON value). Returns the event's id. The newest ``trigger.event_retention``
        events are kept.

        :raises ValueError: ``code`` is empty, or ``payload`` is not JSON.
        """
        if not isinstance(code, str) or not code:
            raise ValueError(f"emit_event({code!r}, ...): an event code is a non-empty string")
        event_id = uuid.uuid4().hex
        try:
            event = {"id": event_id, "code": code, "payload": payload, "at": time.time()}
            text = json.dumps(event, allow_nan=False)  # NaN and Infinity are not JSON
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"emit_event({code!r}, payload): the payload must be a JSON value (dicts, "
                f"lists, strings, numbers, booleans, None): {exc}"
            ) from exc
        self.app.state_backend.append_log(EVENTS, text, self.app.conf.trigger.event_retention)
        return event_id

    def note_outcome(self, invocation_id: str, task_key: str) -> None:
        """Note that an invocation of a watched task is ending (before its outcome is
        written: the trigger pass reads the outcome back once it is final)."""
        self.app.state_backend.append_log(
            OUTCOMES, json.dumps([invocation_id, task_key]), OUTCOME_LOG_LEN
        )

    def run_pass(self) -> float:
        """One trigger pass (the services lease holder runs it); seconds to the next
        time occasion (``inf``: none). In dev sync mode nothing is evaluated."""
        if not self._definitions:
            return math.inf
        if self.app.conf.dev_mode_force_sync_tasks:  # a firing would run inline, here
            if not self._sync_warned:
                self._sync_warned = True
                logger.warning(
                    "dev_mode_force_sync_tasks is on: triggers are not evaluated (a firing "
                    "would run the task inline in the scheduler). Turn it off to run them"
                )
            return math.inf
        if self._evaluator is None:
            self._evaluator = TriggerEvaluator(self.app)
        return self._evaluator.run_pass(self.clock())

    def lease_lost(self) -> None:
        """This runner no longer evaluates: what it loaded is reloaded if it does again."""
        if self._evaluator is not None:
            self._evaluator.reset()

    def status(self) -> list[TriggerStatus]:
        """Each trigger with its next due time and its last firing (one backend read)."""
        definitions = self.definitions()
        ids = [d.trigger_id for d in definitions]
        raws = self.app.state_backend.get_values(STATE, ids) if ids else []
        now = self.clock()
        found: list[TriggerStatus] = []
        for definition, raw in zip(definitions, raws, strict=True):
            state = json.loads(raw) if raw else {}
            found.append(
                TriggerStatus(
                    definition,
                    self._next_due(definition, state, now),
                    state.get("last_fired"),
                    state.get("last_invocation"),
                    int(state.get("fired", 0)),
                    state.get("last_error"),
                    raw is not None,
                )
            )
        return found

    def _next_due(
        self, definition: TriggerDefinition, state: dict[str, Any], now: float
    ) -> float | None:
        cursors = state.get("cursors", {})
        dues: list[float] = []
        for index, condition in enumerate(definition.conditions):
            after = max(float(cursors.get(str(index), now)), now)
            if isinstance(condition, CronCondition):
                dues.append(CronSchedule(condition, self.app.conf.timezone).next_after(after))
            elif isinstance(condition, IntervalCondition):
                anchor = state.get("anchors", {}).get(str(index))
                start = float(cursors.get(str(index), now)) if anchor is None else float(anchor)
                ticks = math.floor((now - start) / condition.seconds) + 1
                dues.append(start + max(ticks, 1) * condition.seconds)
        return min(dues) if dues else None


def refuse_triggers(where: str) -> TaskDefinitionError:
    """The error for ``triggers=`` where it is not accepted."""
    return TaskDefinitionError(
        f"{where} does not accept triggers=: a direct_task is called for its value. Declare "
        "the trigger on an @app.task instead"
    )
