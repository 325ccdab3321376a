"""A Celery app's beat schedule installed on its pynenc app: the runners run it.

There is no beat process. When a runner of the app starts (``pynenc-celery worker``, a
runner started in-process; not a test worker, nor the runner of an eager app), after the
task modules are imported, :func:`install` reads ``beat_schedule`` (``add_periodic_task``
entries included: Celery stores them there), turns each entry into a trigger
(:mod:`pynenc_celery_compat.beat`) and declares the triggers on the entries' tasks. The
runner holding the services lease evaluates them, so with several runners each occasion
runs once.

Each entry is a trigger of its own, named after the entry, with the entry's call options
(queue, priority, expires, countdown, headers, and Celery beat's ``celery_beat_task``
header): two entries with the same task, times and arguments both run, as Celery sends both.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pynenc.exceptions import TaskDefinitionError
from pynenc.trigger.conditions import CronCondition
from pynenc.trigger.cron import CronSchedule
from pynenc.trigger.definition import define
from pynenc_celery_compat import registry
from pynenc_celery_compat.beat import (
    BEAT_HEADER,
    BeatEntry,
    BeatScheduleError,
    apply_options,
    bound_arguments,
    call_options,
    check_keys,
    condition_of,
)
from pynenc_celery_compat.bridge import bridge_for
from pynenc_celery_compat.config import warn_once
from pynenc_celery_compat.routes import routed
from pynenc_celery_compat.routing import routed_to_celery

if TYPE_CHECKING:
    from pynenc import Pynenc

logger = logging.getLogger("pynenc_celery_compat.beat")


@dataclass(frozen=True)
class Installed:
    """The beat entries installed on one pynenc app."""

    entries: tuple[BeatEntry, ...]
    trigger_of: Mapping[str, str]  #: entry name -> its trigger id
    task_names: frozenset[str]  #: tasks given triggers


_installed: weakref.WeakKeyDictionary[Pynenc, Installed] = weakref.WeakKeyDictionary()


def read_entries(celery_app: Any, pynenc_app: Pynenc) -> list[BeatEntry]:
    """The entries of ``celery_app``'s ``beat_schedule``, converted (its task modules
    imported first, as a worker does: tasks are found by name).

    :raises BeatScheduleError: entries that cannot run on pynenc, each named with why.
    """
    tasks = celery_app.tasks  # finalized first: on_after_finalize handlers may add entries
    schedule = celery_app.conf.beat_schedule or {}
    if not isinstance(schedule, Mapping):
        raise BeatScheduleError(
            f"beat_schedule must be a dict of entry names to entries, got {type(schedule).__name__}"
        )
    names = [raw.get("task") for raw in schedule.values() if isinstance(raw, Mapping)]
    if any(isinstance(name, str) and name not in tasks for name in names):
        celery_app.loader.import_default_modules()  # a worker did; a test's install may not
    found: list[BeatEntry] = []
    errors: list[str] = []
    for name, raw in list(schedule.items()):
        try:
            found.append(_entry(celery_app, pynenc_app, str(name), raw))
        except BeatScheduleError as exc:
            errors.append(str(exc))
    if errors:
        raise BeatScheduleError(_listed(errors))
    return found


def _listed(errors: list[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} beat_schedule entries cannot run on pynenc:\n- " + "\n- ".join(errors)


def _entry(celery_app: Any, pynenc_app: Pynenc, name: str, raw: Any) -> BeatEntry:
    check_keys(name, raw)
    task_name: str = raw["task"]
    builder, when = condition_of(name, raw["schedule"], bool(raw.get("relative")))
    options = call_options(name, raw.get("options"))
    task = celery_app.tasks.get(task_name)
    if task is None:
        close = difflib.get_close_matches(task_name, list(celery_app.tasks), n=1, cutoff=0.8)
        meant = f"; did you mean {close[0]!r}?" if close else ""
        raise BeatScheduleError(
            f"beat entry {name!r}: no task named {task_name!r} in app {celery_app.main!r}, "
            "even after importing its task modules; list the module that defines it in "
            f"include (or imports, or autodiscover_tasks), or correct the name{meant}"
        )
    if not registry.made_here(task) or routed_to_celery(task, celery_app):
        why = (
            f"task {task_name} runs on Celery (a Celery task, or switched back by "
            "pynenc_celery_tasks): run this entry with celery beat"
        )
        warn_once(f"beat-skipped-{name}", f"beat entry {name!r} is left out: {why}")
        return BeatEntry(name, task_name, raw["schedule"], builder, when, options, why)
    adapter = task.pynenc_task_for(pynenc_app)
    args, kwargs = raw.get("args"), raw.get("kwargs")
    builder.with_arguments(bound_arguments(name, task_name, adapter.signature, args, kwargs))
    router = bridge_for(celery_app).router
    if router is not None and "queue" not in options:  # task_routes, as beat's apply_async
        options = routed(router, task, list(args or ()), dict(kwargs or {}), options)
    apply_options(name, builder, options)
    return BeatEntry(name, task_name, raw["schedule"], builder, when, options)


def install(celery_app: Any, pynenc_app: Pynenc) -> list[BeatEntry]:
    """Declare ``celery_app``'s beat entries as triggers on ``pynenc_app``'s tasks (again:
    the triggers of entries removed since go); the entries.

    :raises BeatScheduleError: entries that cannot run on pynenc.
    """
    previous = _installed.get(pynenc_app)
    _ = celery_app.tasks  # finalized first: on_after_finalize handlers may add entries
    if previous is None and not celery_app.conf.beat_schedule:
        return []  # no schedule: nothing to do (the usual worker)
    entries = read_entries(celery_app, pynenc_app)
    by_task: dict[str, list[BeatEntry]] = {}
    for entry in entries:
        if entry.skipped is None:
            by_task.setdefault(entry.task, []).append(entry)
    trigger_of: dict[str, str] = {}
    errors: list[str] = []
    adapters: dict[str, Any] = {}
    for task_name, group in by_task.items():
        adapter = adapters[task_name] = celery_app.tasks[task_name].pynenc_task_for(pynenc_app)
        for entry in group:  # each named after its entry: a trigger of its own
            try:
                (definition,) = define(adapter, entry.builder)
            except TaskDefinitionError as exc:
                errors.append(f"beat entry {entry.name!r}: {exc}")
                continue
            trigger_of[entry.name] = definition.trigger_id
    if errors:
        raise BeatScheduleError(_listed(errors))
    for task_name, group in by_task.items():
        pynenc_app.trigger.register(adapters[task_name], [entry.builder for entry in group])
    gone = (previous.task_names if previous else frozenset()) - set(by_task)
    for task_name in gone:  # entries removed from the schedule: their triggers go
        found = pynenc_app.tasks.get(task_name)
        if found is not None:
            pynenc_app.trigger.register(found, [])
    _installed[pynenc_app] = Installed(tuple(entries), trigger_of, frozenset(by_task))
    if entries:
        logger.info("beat: %d entries run by this app's runners", len(trigger_of))
    return entries


def install_for_runner(celery_app: Any, pynenc_app: Pynenc, runner: Any) -> None:
    """:func:`install` as ``runner`` starts (a hook: an error is logged, the runner runs
    the tasks anyway). A test worker (``start_worker``) and the runner of an eager app run
    no schedule, as Celery's test worker and eager mode run no beat."""
    from pynenc_celery_compat.worker.events import worker_of

    worker = worker_of(runner)
    if (worker is not None and worker.test_worker) or celery_app.conf.task_always_eager:
        return
    try:
        install(celery_app, pynenc_app)
    except BeatScheduleError as exc:
        logger.error("beat_schedule is not run: %s", exc)


def installed(pynenc_app: Pynenc) -> tuple[BeatEntry, ...]:
    """The beat entries installed on ``pynenc_app`` (none before a runner started)."""
    found = _installed.get(pynenc_app)
    return found.entries if found else ()


def trigger_ids(pynenc_app: Pynenc) -> dict[str, str]:
    """Each installed entry's name -> the id of its trigger (``app.trigger.status()``)."""
    found = _installed.get(pynenc_app)
    return dict(found.trigger_of) if found else {}


def describe(entries: list[BeatEntry], timezone: str, now: float | None = None) -> list[str]:
    """One line per entry for people: name, task, when, arguments, options, next run."""
    now = time.time() if now is None else now
    zone = ZoneInfo(timezone)
    lines = []
    for entry in entries:
        text = f"{entry.name}: {entry.task} {entry.when}"
        if entry.builder.arguments:
            text += f" with {entry.builder.arguments}"
        if entry.call_options:
            text += f" options {entry.call_options}"
        if entry.skipped:
            text += f" -- left out: {entry.skipped}"
        else:
            condition = entry.builder.conditions[0]
            if isinstance(condition, CronCondition):
                due = CronSchedule(condition, timezone).next_after(now)
                text += f"; next {dt.datetime.fromtimestamp(due, zone).isoformat()}"
        lines.append(text)
    return lines


__all__ = [
    "BEAT_HEADER",
    "describe",
    "install",
    "install_for_runner",
    "installed",
    "read_entries",
    "trigger_ids",
]
