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
occasion, event or outcome. Cursors and states are stored after the firings they cover:
a pass cut short (the holder killed, the backend failing) leaves what it did not fire to
the next pass, which registers again only what is not registered yet.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import BrokerError, StateBackendError, StateBackendUnavailableError
from pynenc.trigger.conditions import (
    OUTCOME_KINDS,
    CronCondition,
    EventCondition,
    IntervalCondition,
)
from pynenc.trigger.cron import CronSchedule
from pynenc.trigger.occurrences import (
    Occurrence,
    event_occurrence,
    invocation_id_for,
    outcome_occurrence,
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
#: Entries kept in the log of outcomes of watched tasks.
OUTCOME_LOG_LEN = 100_000
PENDING = "trigger-outcomes-pending"  #: noted outcomes not final yet (a JSON list)
#: Log entries read per pass (the next pass reads on at once).
BATCH = 500
#: Time occasions fired per condition per pass, at most (an interval far shorter than
#: a pass fires its ticks in the next passes).
MAX_OCCASIONS = 100
#: Passes an outcome noted but not final yet is looked at again before it is dropped.
PENDING_PASSES = 100_000
#: Times in a row one firing may be refused by the state backend or the broker (not an
#: outage: those are waited out) before the pass gives it up and goes on.
MAX_REFUSALS = 5
#: Occurrence keys an "and" trigger keeps of its latest firings (see ``_apply``).
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
        self._refused: dict[str, int] = {}  #: firings refused in a row -> how many times
        self._crons: dict[tuple[str, int], CronSchedule] = {}
        self._full = False
        #: the states were just loaded: this pass may repeat one whose state was never
        #: stored (its holder died between firing and storing)
        self._loaded = False

    def reset(self) -> None:
        """Forget what was loaded (the lease went elsewhere: reload on the next pass)."""
        self._states = None
        self._cursors.clear()
        self._pending.clear()

    def run_pass(self, now: float) -> float:
        """Fire what is due at ``now``; seconds until the next time occasion.

        :raises StateBackendError: (or ``BrokerError``) the pass could not finish; what
            it had not stored is found again by the next pass.
        """
        definitions = self.app.trigger.definitions()
        if not definitions:
            return math.inf
        try:
            return self._run(definitions, now)
        except BaseException:
            self.reset()  # what is stored is where the next pass starts from
            raise

    def _run(self, definitions: list[TriggerDefinition], now: float) -> float:
        states = self._load(definitions)
        found: dict[str, list[tuple[int, Occurrence]]] = {}
        for definition in definitions:
            for index, occurrence in self._time(definition, states[definition.trigger_id], now):
                found.setdefault(definition.trigger_id, []).append((index, occurrence))
        moved: dict[str, int] = {}  #: log -> the last entry read, stored once fired
        self._full = False  #: whether a log had a full batch to read
        self._events(definitions, found, moved)
        pending = self._outcomes(definitions, found, moved)
        firings: list[Firing] = []
        for definition in definitions:
            occurrences = found.get(definition.trigger_id)
            if occurrences:
                state = states[definition.trigger_id]
                firings += self._apply(definition, state, occurrences)
        self._fire_all(firings, now)
        self._loaded = False
        self._save(definitions, states)
        if pending is not None:  # stored before the cursor moves past them
            self.app.state_backend.put_value(CURSORS, PENDING, json.dumps(sorted(pending)))
        for log, seq in moved.items():
            self._advance(log, seq)
        if self._full:
            return 0.0  # a log had more than a batch: the next pass reads on at once
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
            self._loaded = True
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
            self._cursors[log] = seq
            self.app.state_backend.put_value(CURSORS, log, str(seq))

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
        self,
        definitions: list[TriggerDefinition],
        found: dict[str, list[tuple[int, Occurrence]]],
        moved: dict[str, int],
    ) -> None:
        listening = [d for d in definitions if "event" in d.kinds]
        after = self._cursors.get(EVENTS, -1)
        if not listening:
            return
        entries = self.app.state_backend.read_log(EVENTS, max(after, 0), BATCH)
        self._full |= len(entries) >= BATCH
        retention = self.app.conf.trigger.event_retention
        _check_gap(entries, after, "events", f"trigger.event_retention = {retention}")
        for seq, raw in entries:
            event = json.loads(raw)
            for definition in listening:
                for index, condition in enumerate(definition.conditions):
                    if isinstance(condition, EventCondition) and _safely(
                        definition, condition.matches, event["code"], event.get("payload")
                    ):
                        found.setdefault(definition.trigger_id, []).append(
                            (index, event_occurrence(event))
                        )
            moved[EVENTS] = seq

    def _outcomes(
        self,
        definitions: list[TriggerDefinition],
        found: dict[str, list[tuple[int, Occurrence]]],
        moved: dict[str, int],
    ) -> set[str] | None:
        """Collect the outcomes noted since the cursor; the noted outcomes not final yet
        when they changed (to store), else ``None``."""
        watching = [d for d in definitions if d.kinds & OUTCOME_KINDS]
        if not watching:
            return None
        backend = self.app.state_backend
        after = self._cursors.get(OUTCOMES, -1)
        entries = backend.read_log(OUTCOMES, max(after, 0), BATCH)
        _check_gap(entries, after, "outcome notes", f"the log keeps {OUTCOME_LOG_LEN}")
        self._full |= len(entries) >= BATCH
        before = set(self._pending)
        noted = dict.fromkeys(self._pending)
        for _, raw in entries:
            noted[json.loads(raw)[0]] = None
        if not noted:
            return None
        ids = list(noted)
        for inv, record in zip(ids, backend.get_many(ids), strict=True):
            if record is None:
                self._pending.pop(inv, None)
                continue
            if not record.status.is_final:
                seen = self._pending[inv] = self._pending.get(inv, 0) + 1
                if seen >= PENDING_PASSES:  # noted as ending, and never did: let it go
                    logger.warning("Invocation %s was noted ending but did not end", inv)
                    del self._pending[inv]
                continue
            self._pending.pop(inv, None)
            self._match_outcome(watching, record, found)
        if entries:
            moved[OUTCOMES] = entries[-1][0]
        return set(self._pending) if set(self._pending) != before else None

    def _match_outcome(
        self,
        watching: list[TriggerDefinition],
        record: Any,
        found: dict[str, list[tuple[int, Occurrence]]],
    ) -> None:
        result: Any = None
        error: Any = None
        decoded = False
        for definition in watching:
            for index, condition in enumerate(definition.conditions):
                if condition.kind not in OUTCOME_KINDS or condition.task_key != record.task_id:  # type: ignore[union-attr]
                    continue
                if not decoded:
                    result, error = _decode(self.app, record)
                    decoded = True
                if _safely(definition, condition.matches, record.status, result, error):  # type: ignore[union-attr]
                    occurrence = outcome_occurrence(
                        condition.kind,
                        record.invocation_id,
                        record.task_id,
                        record.status,
                        record.result,
                        record.error,
                        record.serializer,
                    )
                    found.setdefault(definition.trigger_id, []).append((index, occurrence))

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
        #: the occurrences of its latest firings: a pass repeated from the stored cursors
        #: (the holder died after storing this state) reads them again; not paired anew
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

    def _fire_all(self, firings: list[Firing], now: float) -> None:
        """Fire each, looking up in one read which are registered already (a repeated pass).

        A trigger's state keeps the ids its last firing pass fired (``last_pass``). In the
        first pass after loading the states, an id registered already but not among them
        was fired by a pass whose state was never stored: it is counted now (``fired``).
        Any other id registered already (the stored pass repeated because its cursors were
        not stored, an outcome noted twice, twice in this pass) was counted when it fired.
        """
        ids = [invocation_id_for(d.trigger_id, occurrences) for d, _, occurrences in firings]
        known = self.app.state_backend.get_many(ids) if ids else []
        stored: dict[str, set[str]] = {}
        for definition, state, _ in firings:
            if definition.trigger_id not in stored:
                stored[definition.trigger_id] = set(state.get("last_pass", ()))
                state["last_pass"] = []
        seen: set[str] = set()
        for firing, invocation_id, record in zip(firings, ids, known, strict=True):
            definition, state, _ = firing
            registered = record is not None or invocation_id in seen
            uncounted = (
                self._loaded
                and record is not None
                and invocation_id not in seen
                and invocation_id not in stored[definition.trigger_id]
            )
            self._fire(*firing, now, registered, uncounted)
            seen.add(invocation_id)
            state["last_pass"].append(invocation_id)

    def _fire(
        self,
        definition: TriggerDefinition,
        state: dict[str, Any],
        occurrences: list[Occurrence],
        now: float,
        registered: bool,
        uncounted: bool = False,
    ) -> None:
        from pynenc.trigger.firing import fire

        state["_dirty"] = True
        try:
            invocation_id, new = fire(self.app, definition, occurrences, registered)
        except StateBackendUnavailableError:
            raise  # an outage: the pass fails, the next one fires it (however long it lasts)
        except (StateBackendError, BrokerError) as exc:
            # refused: the pass is repeated, unless this very firing was refused too often
            # (a value the backend never takes must not block every other trigger)
            key = invocation_id_for(definition.trigger_id, occurrences)
            self._refused = {key: self._refused.get(key, 0) + 1}  # in a row: others forgotten
            if self._refused[key] < MAX_REFUSALS:
                raise
            self._refused.clear()
            logger.error(
                "Trigger %s gave up a firing refused %d times in a row: %s",
                definition.trigger_id,
                MAX_REFUSALS,
                exc,
            )
            state["last_error"] = f"gave up after {MAX_REFUSALS} refusals: {exc}"
            return
        except Exception as exc:  # a provider or an argument error: this firing only
            logger.exception("Trigger %s could not fire", definition.trigger_id)
            state["last_error"] = f"{type(exc).__name__}: {exc}"
            return
        state.pop("last_error", None)
        if new or uncounted:
            state["last_fired"] = now
            state["last_invocation"] = invocation_id
            state["fired"] = int(state.get("fired", 0)) + 1


def _check_gap(entries: list[tuple[int, str]], after: int, what: str, limit: str) -> None:
    """Warn when the log dropped entries past ``after`` before the pass read them."""
    if entries and after >= 0 and entries[0][0] > after + 1:
        logger.warning(
            "%d %s were dropped before the trigger pass read them (%s): keep a runner up, "
            "or raise the limit",
            entries[0][0] - after - 1,
            what,
            limit,
        )


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


def _decode(app: Pynenc, record: Any) -> tuple[Any, Any]:
    from pynenc.serializer import payload_to_exception

    result = None
    if record.result is not None:
        try:
            result = app.serializer_for(record.serializer).loads(record.result)
        except Exception:  # a filter sees None rather than the pass failing
            logger.warning("Result of %s could not be decoded", record.invocation_id)
    error = None if record.error is None else payload_to_exception(record.error)
    return result, error


def _safely(definition: TriggerDefinition, check: Any, *args: Any) -> bool:
    try:
        return bool(check(*args))
    except Exception:
        logger.exception("A filter of trigger %s failed; counted as not met", definition.trigger_id)
        return False
