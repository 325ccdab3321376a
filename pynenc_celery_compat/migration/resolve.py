"""The audit's second step: uses that depend on other modules, decided once all are read.

``send.delay()`` in ``views.py`` is a Celery use if ``send`` (imported from
``proj.tasks``) is a task; ``@app.task`` is Celery's own or the compat layer's depending on
the app ``proj.celery`` makes; module-level ``CELERY_*`` names count if some
``config_from_object`` names the module. Names are followed through the modules'
re-exports (``from .celery import app as celery_app`` in ``proj/__init__.py``). A name from
code the audit did not read (a partial scan) counts as what its use says, except for
methods as common as ``.s`` or ``.map``, and never for the standard library or the other
libraries :func:`~.scan_values.is_other_library` knows. A broker that cannot keep the calls'
states is rated once every module's result backend is known (:class:`~.catalog_settings.Stores`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pynenc_celery_compat.migration.audit import Finding
from pynenc_celery_compat.migration.catalog import Rating
from pynenc_celery_compat.migration.catalog_app import UNKNOWN_APP
from pynenc_celery_compat.migration.catalog_settings import Stores
from pynenc_celery_compat.migration.scan_values import Dep, ModuleScan, Pending, is_other_library

_MAX_HOPS = 20


class Resolver:
    """What every module read says about apps, tasks and settings modules."""

    def __init__(self, scans: Sequence[ModuleScan]) -> None:
        self.modules = {scan.module for scan in scans}
        self.aliases: dict[str, str] = {}
        self.tasks: dict[str, Dep | None] = {}
        self.apps: dict[str, str] = {}
        self.own_apps: set[str] = set()
        self.targets: set[str] = set()
        for scan in scans:
            self.aliases.update(scan.aliases)
            self.tasks.update(scan.tasks)
            self.apps.update(scan.apps)
            self.own_apps |= scan.own_apps
            self.targets |= scan.config_targets
        self.related = {scan.module: scan.related for scan in scans}

    def resolve(self, qual: str) -> str:
        """Follow re-exports: ``proj.celery_app`` -> ``proj.celery.app``."""
        for _ in range(_MAX_HOPS):
            if qual in self.tasks or qual in self.apps:
                return qual
            if qual in self.aliases and self.aliases[qual] != qual:
                qual = self.aliases[qual]
                continue
            parts = qual.split(".")
            for end in range(len(parts) - 1, 0, -1):
                prefix = ".".join(parts[:end])
                if prefix in self.aliases and self.aliases[prefix] != prefix:
                    qual = ".".join([self.aliases[prefix], *parts[end:]])
                    break
            else:
                return qual
        return qual

    def read(self, qual: str) -> bool:
        """Whether ``qual`` lies in a module the audit read."""
        parts = qual.split(".")
        return any(".".join(parts[:end]) in self.modules for end in range(len(parts), 0, -1))

    def app_of(self, qual: str) -> str | None:
        found = self.resolve(qual)
        if found in self.apps:
            return self.apps[found]
        if self.read(found) or is_other_library(found):
            return None
        return UNKNOWN_APP

    def is_task(self, qual: str, strict: bool, depth: int = 0) -> bool:
        found = self.resolve(qual)
        if found in self.tasks:
            dep = self.tasks[found]
            return dep is None or (depth < _MAX_HOPS and self.holds(dep, depth + 1)[0])
        return not (strict or self.read(found) or is_other_library(found))

    def is_target(self, qual: str) -> bool:
        return any(qual == t or qual.endswith("." + t) for t in self.targets)

    def holds(self, dep: Dep, depth: int = 0) -> tuple[bool, str]:
        """Whether ``dep`` holds, and the app it comes to (for ratings that depend on it)."""
        kind, qual = dep
        if kind == "app":
            app = self.app_of(qual)
            return app is not None, app or UNKNOWN_APP
        if kind in ("app!", "member"):
            found = self.resolve(qual)
            app = self.apps.get(found)
            own = kind == "member" and found in self.own_apps
            return app is not None and not own, app or UNKNOWN_APP
        if kind in ("task", "task!"):
            return self.is_task(qual, kind == "task!", depth), UNKNOWN_APP
        if kind == "config":
            return self.is_target(qual), UNKNOWN_APP
        return self.related.get(qual, False), UNKNOWN_APP


def _rated(pending: Pending, app: str, stores: Stores) -> Finding:
    rating: Rating | None = None
    if pending.by_app is not None:
        rating = pending.by_app.get(app) or pending.by_app[UNKNOWN_APP]
    if pending.recheck is not None:
        rating = pending.recheck(stores) or rating
    if rating is None:
        return pending.finding
    return dataclasses.replace(
        pending.finding, support=rating.support, reason=rating.reason, section=rating.section
    )


def findings(scans: Sequence[ModuleScan]) -> list[Finding]:
    """Every finding that holds, sorted by file and position."""
    resolver = Resolver(scans)
    stores = Stores(
        brokers=frozenset(broker for scan in scans for broker in scan.brokers),
        backend=any(scan.backend for scan in scans),
        schedules={qual: kind for scan in scans for qual, kind in scan.schedules.items()},
        resolve=resolver.resolve,
    )
    kept: list[Finding] = []
    waiting: list[Pending] = []
    for scan in scans:
        for pending in scan.pending:
            if pending.dep is not None and pending.dep[0] == "related":
                waiting.append(pending)  # decided once every other use is known
                continue
            holds, app = resolver.holds(pending.dep) if pending.dep else (True, UNKNOWN_APP)
            if holds:
                kept.append(_rated(pending, app, stores))
                resolver.related[scan.module] = True
    for pending in waiting:
        assert pending.dep is not None
        holds, app = resolver.holds(pending.dep)
        if holds:
            kept.append(_rated(pending, app, stores))
    kept.sort(key=lambda f: (f.path, f.line, f.column, f.api))
    return kept
