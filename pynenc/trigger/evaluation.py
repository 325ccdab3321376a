"""The trigger pass: run by the holder of the services lease, after each scheduler pass.

One pass, for the triggers this app knows:

1. **Time**: the cron occasions and interval ticks in ``(cursor, now]`` of each time
   condition. An occasion later than ``trigger.missed_after`` is *missed* (no runner was
   up): ``trigger.missed = "once"`` fires the latest missed one, once, when no occasion is
   due on time; ``"skip"`` drops them.
2. **Events**: the events emitted since the events cursor (the ``trigger-events`` log).
3. **Outcomes**: the invocations of watched tasks noted since the outcomes cursor (the
   ``trigger-outcomes`` log, written by the runner before it records the outcome), read
   back from the state backend: only a final record counts, with the status, result or
   error it ended with; one not final yet is looked at again on the next passes.

Each occurrence that meets a condition fires the trigger (``"or"``), or is kept in the
trigger's state until every condition has one (``"and"``). Firing registers the task's
invocation under an id derived from the trigger and its occurrences, so two runners (a
lease changing hands, a pass repeated after a crash) register it once: exactly once per
occasion, event or outcome. States, then the cursors of the logs, are stored after the
firings they cover: a pass that dies before is repeated from the stored cursors, and what
it had fired is found registered. A pass that fails (the state backend out of reach)
forgets what it loaded, so the next one starts again from what is stored.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pynenc.trigger.conditions import (
    OUTCOME_KINDS,
    CronCondition,
    EventCondition,
    IntervalCondition,
)
from pynenc.trigger.cron import CronSchedule
from pynenc.trigger.matching import match_outcome, safely
from pynenc.trigger.occurrences import (
    Occurrence,
    event_occurrence,
    invocation_id_for,
    time_occurrence,
)

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.trigger.definition import TriggerDefinition

logger = logging.getLogger("pynenc.trigger")

STATE = "trigger-state"  #: value namespace: trigger id -> its state (JSON)
CURSORS = "trigger-cursor"  #: value namespace: log name -> last sequence handled
EVENTS = "trigger-events"  #: log of emitted events
OUTCOMES = "trigger-outcomes"  #: log of ended invocations of watched tasks
PENDING = "trigger-outcomes-pending"  #: noted outcomes not final yet (a JSON list)
#: Log entries read per pass (the next pass reads on at once).
BATCH = 500
#: Time occasions fired per condition per pass, at most (an interval far shorter than
#: a pass fires its ticks in the next passes).
MAX_OCCASIONS = 100
#: Passes an outcome noted but not final yet is looked at again before it is dropped.
PENDING_PASSES = 100_000
#: Occurrence keys an "and" trigger remembers of its latest firings.
USED_KEPT = 200

#: One firing: the trigger, its state, and the occurrences it fires for.
Firing = tuple["TriggerDefinition", dict[str, Any], list[Occurrence]]


class TriggerEvaluator:
    """The state of the trigger passes of one lease holder."""

    def __init__(self, app: Pynenc) -> None:
        self.app = app
        self._states: dict[str, dict[str, Any]] | None = None  #: loaded on the first pass
        self._cursors: dict[str, int] = {}
        self._pending: dict[str, int] = {}  #: noted outcomes not final yet -> passes seen
        self._crons: dict[tuple[str, int], CronSchedule] = {}

    def reset(self) -> None:
        """Forget what was loaded (the lease went elsewhere: reload on the next pass)."""
        self._states = None
        self._cursors.clear()
        self._pending.clear()

    def run_pass(self, now: float) -> float:
        """Fire what is due at ``now``; seconds until the next time occasion (``0``: a
        log had more entries than one pass reads)."""
        definitions = self.app.trigger.definitions()
        if not definitions:
            return math.inf
        try:
            return self._pass(definitions, now)
        except BaseException:
            # what this pass moved on in memory (time cursors, "and" progress, outcomes
            # pending) is not all stored: the next pass starts from what the backend holds
            self.reset()
            raise

    def _pass(self, definitions: list[TriggerDefinition], now: float) -> float:
        states = self._load(definitions)
        found: dict[str, list[tuple[int, Occurrence]]] = {}
        for definition in definitions:
            for index, occurrence in self._time(definition, states[definition.trigger_id], now):
                found.setdefault(definition.trigger_id, []).append((index, occurrence))
        events_read, more_events = self._events(definitions, found)
        outcomes_read, more_outcomes, pending_changed = self._outcomes(definitions, found)
        firings: list[Firing] = []
        for definition in definitions:
            occurrences = found.get(definition.trigger_id)
            if occurrences:
                state = states[definition.trigger_id]
                firings += self._apply(definition, state, occurrences)
        self._fire(firings, now)
        self._save(definitions, states)
        # the logs' cursors last: a pass that dies before this is repeated from them
        if pending_changed:
            self.app.state_backend.put_value(CURSORS, PENDING, json.dumps(sorted(self._pending)))
        self._advance(EVENTS, events_read)
        self._advance(OUTCOMES, outcomes_read)
        if more_events or more_outcomes:
            return 0.0  # a full batch was read: the next pass reads on at once
        return self._next_due(definitions, states, now)

    # -- loading and saving --------------------------------------------------------------

    def _load(self, definitions: list[TriggerDefinition]) -> dict[str, dict[str, Any]]:
        states = self._states if self._states is not None else {}
        missing = [d.trigger_id for d in definitions if d.trigger_id not in states]
        if missing:
            backend = self.app.state_backend
            for trigger_id, raw in zip(missing, backend.get_values(STATE, missing), strict=True):
                states[trigger_id] = json.loads(raw) if raw else {}
        if self._states is None:
            names = [EVENTS, OUTCOMES, PENDING]
            events, outcomes, pending = self.app.state_backend.get_values(CURSORS, names)
            self._cursors = {EVENTS: int(events or -1), OUTCOMES: int(outcomes or -1)}
            self._pending = dict.fromkeys(json.loads(pending) if pending else [], 0)
            self._states = states
            self._check_watched()
        return states

    def _check_watched(self) -> None:
        """Warn of watched tasks this runner cannot find: a misspelt name never fires."""
        from pynenc.exceptions import TaskNotFoundError

        for key in sorted(self.app.trigger.watched):
            try:
                self.app.resolve_task(key)
            except TaskNotFoundError as exc:
                logger.warning(
                    "A trigger watches the outcomes of task %r, which this runner cannot "
                    "find (%s): check the name given to on_status/on_success/on_result/"
                    "on_exception",
                    key,
                    exc,
                )

    def _save(self, definitions: list[TriggerDefinition], states: dict[str, Any]) -> None:
        backend = self.app.state_backend
        for definition in definitions:
            state = states[definition.trigger_id]
            if state.pop("_dirty", False):
                backend.put_value(STATE, definition.trigger_id, json.dumps(state))

    def _advance(self, log: str, seq: int) -> None:
        if seq > self._cursors.get(log, -1):
            self.app.state_backend.put_value(CURSORS, log, str(seq))
            self._cursors[log] = seq

    # -- time ----------------------------------------------------------------------------

    def _schedule(self, definition: TriggerDefinition, index: int) -> CronSchedule:
        key = (definition.trigger_id, index)
        schedule = self._crons.get(key)
        if schedule is None:
            condition = definition.conditions[index]
            assert isinstance(condition, CronCondition)
            schedule = CronSchedule(condition, self.app.conf.timezone)
            self._crons[key] = schedule
        return schedule

    def _time(
        self, definition: TriggerDefinition, state: dict[str, Any], now: float
    ) -> Iterator[tuple[int, Occurrence]]:
        cursors: dict[str, float] = state.setdefault("cursors", {})
        for index, condition in enumerate(definition.conditions):
            if not isinstance(condition, CronCondition | IntervalCondition):
                continue
            name = str(index)
            if name not in cursors:  # first seen: counted from now, nothing to catch up
                cursors[name] = now
                state["_dirty"] = True
                continue
            after = cursors[name]
            if isinstance(condition, CronCondition):
                occasions = self._schedule(definition, index).between(after, now, MAX_OCCASIONS)
            else:
                occasions = _ticks(state, name, condition.seconds, after, now)
            if not occasions:
                continue
            cursors[name] = occasions[-1]
            state["_dirty"] = True
            for occasion in self._policy(occasions, now):
                yield index, time_occurrence(condition.kind, index, occasion)

    def _policy(self, occasions: list[float], now: float) -> list[float]:
        conf = self.app.conf.trigger
        on_time = [o for o in occasions if now - o <= conf.missed_after]
        if on_time or conf.missed == "skip":
            if len(on_time) < len(occasions):
                logger.info("Skipped %d missed occasions", len(occasions) - len(on_time))
            return on_time
        return occasions[-1:]  # "once": the latest missed occasion runs, once

    def _next_due(
        self, definitions: list[TriggerDefinition], states: dict[str, Any], now: float
    ) -> float:
        soonest = math.inf
        for definition in definitions:
            cursors = states[definition.trigger_id].get("cursors", {})
            for index, condition in enumerate(definition.conditions):
                after = cursors.get(str(index))
                if after is None:
                    continue
                if isinstance(condition, CronCondition):
                    due = self._schedule(definition, index).next_after(max(after, now))
                elif isinstance(condition, IntervalCondition):
                    due = after + condition.seconds
                else:
                    continue
                soonest = min(soonest, due - now)
        return max(soonest, 0.0)

    # -- events and outcomes -------------------------------------------------------------

    def _events(
        self, definitions: list[TriggerDefinition], found: dict[str, list[tuple[int, Occurrence]]]
    ) -> tuple[int, bool]:
        """Match the events emitted since the cursor: the last number read, and whether
        there may be more."""
        listening = [d for d in definitions if "event" in d.kinds]
        after = self._cursors.get(EVENTS, -1)
        if not listening:
            return after, False
        entries = self.app.state_backend.read_log(EVENTS, max(after, 0), BATCH)
        if entries and after >= 0 and entries[0][0] > after + 1:
            logger.warning(
                "%d events were dropped before the trigger pass read them "
                "(trigger.event_retention = %d): raise it, or keep a runner up",
                entries[0][0] - after - 1,
                self.app.conf.trigger.event_retention,
            )
        for _, raw in entries:
            event = json.loads(raw)
            for definition in listening:
                for index, condition in enumerate(definition.conditions):
                    if isinstance(condition, EventCondition) and safely(
                        definition, condition.matches, event["code"], event.get("payload")
                    ):
                        found.setdefault(definition.trigger_id, []).append(
                            (index, event_occurrence(event))
                        )
        return (entries[-1][0] if entries else after), len(entries) >= BATCH

    def _outcomes(
        self, definitions: list[TriggerDefinition], found: dict[str, list[tuple[int, Occurrence]]]
    ) -> tuple[int, bool, bool]:
        """Match the outcomes noted since the cursor and those pending: the last number
        read, whether there may be more, and whether the pending ones changed."""
        after = self._cursors.get(OUTCOMES, -1)
        watching = [d for d in definitions if d.kinds & OUTCOME_KINDS]
        if not watching:
            return after, False, False
        backend = self.app.state_backend
        entries = backend.read_log(OUTCOMES, max(after, 0), BATCH)
        before = set(self._pending)
        noted = dict.fromkeys(self._pending)
        for _, raw in entries:
            noted[json.loads(raw)[0]] = None
        ids = list(noted)
        for inv, record in zip(ids, backend.get_many(ids) if ids else [], strict=True):
            if record is None:
                self._pending.pop(inv, None)
                continue
            if not record.status.is_final:
                seen = self._pending.get(inv, 0) + 1
                self._pending[inv] = seen
                if seen >= PENDING_PASSES:  # noted, and never ended: no longer looked at
                    logger.warning("Invocation %s was noted ending but never did", inv)
                    del self._pending[inv]
                continue
            self._pending.pop(inv, None)
            match_outcome(self.app, watching, record, found)
        last = entries[-1][0] if entries else after
        return last, len(entries) >= BATCH, set(self._pending) != before

    # -- firing --------------------------------------------------------------------------

    def _apply(
        self,
        definition: TriggerDefinition,
        state: dict[str, Any],
        occurrences: list[tuple[int, Occurrence]],
    ) -> list[Firing]:
        """The firings these occurrences make (an "and" trigger keeps its progress)."""
        if definition.logic == "or":
            return [(definition, state, [occurrence]) for _, occurrence in occurrences]
        firings: list[Firing] = []
        met: dict[str, Occurrence] = state.setdefault("met", {})
        #: the occurrences of its latest firings: a pass repeated after a crash (before
        #: the cursors were stored) reads them again, and must not count them twice
        used: list[str] = state.setdefault("used", [])
        for index, occurrence in occurrences:
            if occurrence["key"] in used:
                continue
            met.setdefault(str(index), occurrence)
            state["_dirty"] = True
            if len(met) == len(definition.conditions):
                ordered = [met[str(i)] for i in range(len(definition.conditions))]
                firings.append((definition, state, ordered))
                used += [o["key"] for o in ordered]
                del used[:-USED_KEPT]
                met.clear()
        return firings

    def _fire(self, firings: list[Firing], now: float) -> None:
        """Register each firing's invocation unless it is registered already (a repeated
        pass), in one read for them all."""
        from pynenc.exceptions import StateBackendUnavailableError
        from pynenc.trigger.firing import fire

        ids = [invocation_id_for(d.trigger_id, occurrences) for d, _, occurrences in firings]
        known = self.app.state_backend.get_many(ids) if ids else []
        done: set[str] = set()
        for (definition, state, occurrences), invocation_id, record in zip(
            firings, ids, known, strict=True
        ):
            state["_dirty"] = True
            if record is not None or invocation_id in done:  # fired by an earlier pass
                state.pop("last_error", None)
                continue
            done.add(invocation_id)
            try:
                registered = fire(self.app, definition, occurrences, invocation_id)
            except StateBackendUnavailableError:
                raise  # not this firing's fault: the pass is repeated once it is back
            except Exception as exc:  # a provider or an argument error: this firing only
                logger.exception("Trigger %s could not fire", definition.trigger_id)
                state["last_error"] = f"{type(exc).__name__}: {exc}"
                continue
            state.pop("last_error", None)
            state["last_fired"] = now
            state["last_invocation"] = registered  # (another one, folded by registration control)
            state["fired"] = int(state.get("fired", 0)) + 1


def _ticks(
    state: dict[str, Any], name: str, seconds: float, after: float, now: float
) -> list[float]:
    """Interval ticks in ``(after, now]``: one ``seconds`` apart from the first sighting."""
    anchors: dict[str, float] = state.setdefault("anchors", {})
    anchor = anchors.setdefault(name, after)
    first = round((after - anchor) / seconds) + 1  # ``after`` is the anchor or a tick
    last = math.floor((now - anchor) / seconds)
    if last < first:
        return []
    first = max(first, last - MAX_OCCASIONS + 1)
    return [anchor + k * seconds for k in range(first, last + 1)]
