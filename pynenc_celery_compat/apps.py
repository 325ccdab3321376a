"""Celery apps' pynenc apps by reference: how other processes, and pynenc's command, find them.

pynenc loads an app by reference, ``module:attribute`` (``pynenc --app``, and the worker
processes of process runners). A Celery app's pynenc app is no module attribute: it is built
from the Celery app (:mod:`~pynenc_celery_compat.bridge`). So this module resolves attribute
names itself, in two spellings:

- ``pynenc_celery_compat.apps:proj.celery:app``: the Celery app ``app`` of module
  ``proj.celery``. ``pynenc --app pynenc_celery_compat.apps:proj.celery:app runner start``
  runs its compat tasks; a runner started in-process for a Celery app that a module holds
  gets this reference, so its worker processes import the app from there.
- a token made by :func:`reference` (a worker's prefork processes): how to find the Celery
  app (Celery's ``-A`` rules, or the app pickled when it cannot be imported: a test's app)
  and the worker's own settings (node name, log level, time limits, task modules).

Resolving either imports the Celery app, sets the process up as the worker did
(:meth:`~pynenc_celery_compat.worker.Worker.setup`) and returns the app's pynenc app. In a
prefork worker process it also denies joins (``result.get()`` inside a task raises, as in
Celery's prefork children) and sends ``worker_process_init``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import pickle
import sys
import threading
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import RunnerError

if TYPE_CHECKING:
    from pynenc import Pynenc

#: references resolved in this process -> their Celery app (set up once)
_resolved: dict[str, Any] = {}
_lock = threading.Lock()
#: packages whose modules may hold a Celery app without being where it is defined
_NOT_THE_APPS = frozenset({"celery", "kombu", "pynenc", "pynenc_celery_compat"})


def reference(spec: dict[str, Any]) -> str:
    """A pynenc app reference (``module:attribute``) that resolves to the app ``spec`` names:
    ``{"app": "proj.celery:app"}`` alone reads as it is written, anything more is a token."""
    app_ref = spec.get("app")
    if set(spec) == {"app"} and isinstance(app_ref, str) and ":" in app_ref:
        return f"{__name__}:{app_ref}"
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    token = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    return f"{__name__}:{token}"


def pickle_app(app: Any) -> str:
    """``app`` pickled (Celery apps pickle as their class, name and changed settings)."""
    return base64.b64encode(pickle.dumps(app)).decode()


def find_reference(celery_app: Any) -> str | None:
    """``module:attribute`` of an imported module holding ``celery_app``, if any (Celery's
    and pynenc's own modules and ``__main__`` left out: other processes cannot import it
    from there)."""
    for name, module in list(sys.modules.items()):
        if module is None or name == "__main__" or name.split(".")[0] in _NOT_THE_APPS:
            continue
        with contextlib.suppress(Exception):  # modules whose attributes misbehave
            for attribute, value in list(vars(module).items()):
                if value is celery_app:
                    return f"{name}:{attribute}"
    return None


def decode(name: str) -> dict[str, Any]:
    """The spec a reference's attribute name holds (module docs).

    :raises RunnerError: it is neither spelling.
    """
    if ":" in name:  # proj.celery:app
        return {"app": name}
    try:
        padded = name + "=" * (-len(name) % 4)
        spec = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError) as exc:
        raise RunnerError(
            f"{__name__}:{name[:40]}… is not a reference this package made ({exc}); name "
            f"a Celery app as {__name__}:package.module:app"
        ) from None
    if not isinstance(spec, dict):
        raise RunnerError(f"{__name__}:{name[:40]}… is not a reference this package made")
    return spec


def celery_app_of(spec: dict[str, Any]) -> Any:
    """The Celery app ``spec`` names (imported by Celery's ``-A`` rules, or unpickled).

    :raises RunnerError: it names no Celery app.
    """
    if "pickled_app" in spec:
        return pickle.loads(base64.b64decode(spec["pickled_app"]))
    from celery.app.utils import find_app

    try:
        app = find_app(spec["app"])
    except (ImportError, AttributeError) as exc:
        raise RunnerError(f"{spec['app']!r} names no Celery app: {exc}") from exc
    if not hasattr(app, "conf") or not hasattr(app, "tasks"):
        raise RunnerError(f"{spec['app']} is {type(app).__name__}, not a Celery app")
    for name, value in (spec.get("conf") or {}).items():
        setattr(app.conf, name, value)
    return app


def resolve(name: str) -> Pynenc:
    """The pynenc app a reference's attribute ``name`` names, this process set up as the
    worker's (module docs)."""
    from pynenc_celery_compat.bridge import pynenc_app_for

    with _lock:
        celery_app = _resolved.get(name)
        if celery_app is None:
            celery_app = _set_up(decode(name))
            _resolved[name] = celery_app
    return pynenc_app_for(celery_app)


def _set_up(spec: dict[str, Any]) -> Any:
    from celery._state import _set_task_join_will_block
    from celery.signals import worker_process_init

    from pynenc_celery_compat.worker import events
    from pynenc_celery_compat.worker.controller import Worker, configure_logging

    app = celery_app_of(spec)
    worker = Worker(
        app,
        pool=spec.get("pool", "solo"),
        hostname=spec.get("hostname"),
        loglevel=spec.get("loglevel"),
        time_limit=spec.get("time_limit"),
        soft_time_limit=spec.get("soft_time_limit"),
        include=spec.get("include", ()),
        queues=spec.get("queues"),
    )
    worker.runs_beat = not spec.get("child")  # the worker's parent process runs it
    worker.setup()
    if spec.get("child"):
        configure_logging(worker.loglevel)
        events.mark_pool_child(worker.hostname)
        _set_task_join_will_block(True)
        events.send(worker_process_init, sender=worker.hostname)
    return app


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    # pynenc's loader reads a missing attribute as an AttributeError: what went wrong while
    # setting the app up must not pass for one
    try:
        return resolve(name)
    except AttributeError as exc:
        raise RunnerError(f"{__name__}:{name[:60]}: setting the app up failed: {exc!r}") from exc
