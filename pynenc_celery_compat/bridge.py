"""The pynenc app behind a Celery app: built from its settings, rebuilt when they change.

Works for this package's :class:`~pynenc_celery_compat.Celery` and for a real
``celery.Celery`` (a partial migration keeps the project's app): compat tasks follow the
current Celery app's settings either way.

Each Celery app gets one :class:`Bridge`, kept on the app: its pynenc app, built on first
use from :func:`~pynenc_celery_compat.config.pynenc_config_values`, and its ``task_routes``.
A call checks that the Celery settings are the ones the bridge was made from (the identity
and a copy of ``app.conf``'s changes: no setting is read). After a change, the settings are
mapped again; when the pynenc configuration differs, the pynenc app is rebuilt, unless a
runner of it is running in this process: then :class:`~pynenc.exceptions.ConfigError` says
which options changed. Settings read from a module or Django's settings are not watched
(``config_from_object`` again, or assign through ``app.conf``), nor values changed in place
(assign a new dict rather than changing one key of ``app.conf.task_routes``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from celery.app.routes import Router, prepare
from celery.local import Proxy

from pynenc import Pynenc
from pynenc.exceptions import ConfigError
from pynenc_celery_compat import mixed
from pynenc_celery_compat.config import pynenc_config_values, warn_ignored_settings

logger = logging.getLogger("pynenc_celery_compat.bridge")

_ATTRIBUTE = "_pynenc_compat_bridge"
_lock = threading.RLock()
#: each pynenc app built here -> its Celery app (weakly: both go when unused)
_celery_apps: weakref.WeakKeyDictionary[Pynenc, weakref.ref[Any]] = weakref.WeakKeyDictionary()


class Bridge:
    """A Celery app's pynenc side: ``pynenc`` (the app), ``router`` (its ``task_routes``,
    ``None`` without routes) and the settings they were made from."""

    def __init__(self, celery_app: Any, values: dict[str, Any]) -> None:
        self.celery_app = celery_app
        self.values = values
        self.pynenc = _build(celery_app, values)
        _celery_apps[self.pynenc] = weakref.ref(celery_app)
        self.router: Router | None = None
        #: runners of ``pynenc`` running in this process (its runner_start/stop hooks)
        self.running = 0
        self._conf: Any = None
        self._changes: Any = None
        self._snapshot: Any = None
        self.pynenc.hooks.on_runner_start(self._runner_started)
        self.pynenc.hooks.on_runner_stop(self._runner_stopped)

    # -- watching the settings --------------------------------------------------------------

    def matches(self, conf: Any) -> bool:
        """Whether ``conf`` is still the configuration this bridge was made from."""
        changes = conf.changes
        return conf is self._conf and changes is self._changes and changes == self._snapshot

    def remember(self, conf: Any) -> None:
        """Take ``conf`` as this bridge's configuration (and its routes)."""
        changes = conf.changes
        # a shallow copy: values are compared as they are (a router object equals itself;
        # a deep copy would not); a value changed in place is not seen, assign a new one
        snapshot = dict(changes)
        routes = prepare(conf.task_routes)
        self.router = Router(routes, app=self.celery_app) if routes else None
        self._conf, self._changes, self._snapshot = conf, changes, snapshot

    # -- runners ------------------------------------------------------------------------------

    def _runner_started(self, runner: Any) -> None:
        with _lock:
            self.running += 1
        prepare_for_runner(self.celery_app, self.pynenc)
        from pynenc_celery_compat.result_meta import remember_node

        remember_node(self.pynenc, runner)  # AsyncResult.worker: the name tasks see
        from pynenc_celery_compat.beat_install import install_for_runner

        install_for_runner(self.celery_app, self.pynenc, runner)  # beat_schedule

    def _runner_stopped(self, runner: Any) -> None:
        with _lock:
            self.running = max(0, self.running - 1)


def _build(celery_app: Any, values: dict[str, Any]) -> Pynenc:
    from pynenc_celery_compat.worker import events

    try:
        app = Pynenc(values)
    except ConfigError as exc:
        raise ConfigError(
            f"The Celery settings of app {celery_app.main!r} make no valid pynenc "
            f"configuration: {exc} (see docs/celery.md, 'Settings')"
        ) from exc
    events.connect(app)  # Celery's worker signals from its runners
    return app


def _current(celery_app: Any) -> Any:
    """The Celery app itself when ``celery_app`` is a proxy (``current_app``)."""
    if isinstance(celery_app, Proxy):
        return celery_app._get_current_object()
    return celery_app


def bridge_for(celery_app: Any) -> Bridge:
    """The :class:`Bridge` of ``celery_app``, up to date with its settings (module docs)."""
    celery_app = _current(celery_app)
    bridge: Bridge | None = celery_app.__dict__.get(_ATTRIBUTE)
    if bridge is not None and bridge.matches(celery_app.conf):
        return bridge
    return _refresh(celery_app)


def pynenc_app_for(celery_app: Any) -> Pynenc:
    """The :class:`~pynenc.Pynenc` app that runs ``celery_app``'s compat tasks."""
    return bridge_for(celery_app).pynenc


def celery_app_of(app: Pynenc) -> Any:
    """The Celery app whose pynenc app is ``app`` (``None``: not one built here)."""
    found = _celery_apps.get(app)
    return None if found is None else found()


def _refresh(celery_app: Any) -> Bridge:
    with _lock:
        conf = celery_app.conf
        bridge: Bridge | None = celery_app.__dict__.get(_ATTRIBUTE)
        if bridge is not None and bridge.matches(conf):
            return bridge
        values = pynenc_config_values(celery_app)
        warn_ignored_settings(conf)
        if bridge is None or values != bridge.values:
            if bridge is not None and bridge.running:
                raise ConfigError(_changed_while_running(celery_app, bridge.values, values))
            bridge = Bridge(celery_app, values)
            celery_app.__dict__[_ATTRIBUTE] = bridge
            mixed.install(celery_app)
            declare_tasks(celery_app, bridge.pynenc)
        bridge.remember(conf)
        return bridge


def _changed_while_running(celery_app: Any, old: dict[str, Any], new: dict[str, Any]) -> str:
    changed = sorted(name for name in {*old, *new} if old.get(name) != new.get(name))
    return (
        f"The settings of Celery app {celery_app.main!r} changed the pynenc options "
        f"{', '.join(changed)} while a runner of its pynenc app runs in this process. Stop "
        "the runner first (the in-process eager runner: pynenc_celery_compat.eager."
        "stop_eager_runner(app)), or configure the app before its tasks are first used."
    )


def reset_pynenc_app(celery_app: Any) -> None:
    """Forget ``celery_app``'s pynenc app: the next use builds it from the current settings."""
    with _lock:
        _current(celery_app).__dict__.pop(_ATTRIBUTE, None)


def built_pynenc_app(celery_app: Any) -> Pynenc | None:
    """``celery_app``'s pynenc app if it was built, else ``None`` (nothing is built)."""
    bridge = _current(celery_app).__dict__.get(_ATTRIBUTE)
    return bridge.pynenc if isinstance(bridge, Bridge) else None


def declare_tasks(celery_app: Any, app: Pynenc, afresh: bool = False) -> None:
    """Declare every compat task of ``celery_app``'s registry (and this package's built-in
    ones) on ``app``, so its runners consume their queues and find them by name.

    Only tasks this layer made (:func:`~pynenc_celery_compat.registry.made_here`): the
    others keep Celery's path. ``afresh``: declare again those declared already, so the
    options read now apply (a worker's default time limits).
    """
    from pynenc_celery_compat import registry
    from pynenc_celery_compat.adapter import CeleryTaskAdapter

    for task in [*list(celery_app.tasks.values()), *registry.builtins()]:
        if registry.made_here(task) and (afresh or task.name not in app.tasks):
            CeleryTaskAdapter.declare(app, task, celery_app)


def prepare_for_runner(celery_app: Any, app: Pynenc) -> None:
    """Before a runner serves ``celery_app``'s tasks: make it the current and default app
    (as Celery's workers do: ``current_app`` and a shared task's ``self.app`` in the
    runner's threads), import its task modules as Celery's worker does (``imports``,
    ``include``, the packages of ``autodiscover_tasks``; Django's setup with Celery's
    Django fix-up), declare its compat tasks, and find where worker processes can import
    the app from."""
    celery_app.set_current()
    celery_app.set_default()
    try:
        celery_app.loader.import_default_modules()
    finally:  # a module that fails to import is reported; the others' tasks still run
        declare_tasks(celery_app, app)
        if app.reference is None:
            from pynenc_celery_compat import apps

            found = apps.find_reference(celery_app)
            if found is not None:
                app.reference = apps.reference({"app": found})


__all__ = [
    "Bridge",
    "bridge_for",
    "celery_app_of",
    "declare_tasks",
    "prepare_for_runner",
    "pynenc_app_for",
    "reset_pynenc_app",
]
