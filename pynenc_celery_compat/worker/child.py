"""The pynenc app of a Celery app, by reference: how other processes find it.

pynenc's worker processes (and the ``pynenc`` command) load an app by reference,
``module:attribute``. A Celery app's pynenc app is no module attribute: it is built from the
Celery app (:mod:`~pynenc_celery_compat.bridge`). So this module resolves attributes itself:
the attribute name is a token holding how to find the Celery app (``proj.celery:app``,
Celery's ``-A`` rules, or the app pickled when it cannot be imported: a test's app) and how
the worker set itself up. Resolving it imports the Celery app, sets the process up as the
worker did (:meth:`Worker.setup`) and returns the app's pynenc app. In a prefork worker
process it also denies joins (``result.get()`` inside a task raises, as in Celery's prefork
children) and sends ``worker_process_init``.
"""

from __future__ import annotations

import base64
import binascii
import json
import pickle
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import RunnerError

if TYPE_CHECKING:
    from pynenc import Pynenc

_resolved: dict[str, Pynenc] = {}


def reference(spec: dict[str, Any]) -> str:
    """A pynenc app reference (``module:attribute``) that resolves to the app ``spec`` names."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    token = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    return f"{__name__}:{token}"


def pickle_app(app: Any) -> str:
    """``app`` pickled (Celery apps pickle as their class, name and changed settings)."""
    return base64.b64encode(pickle.dumps(app)).decode()


def decode(token: str) -> dict[str, Any]:
    """The spec a :func:`reference` token holds.

    :raises RunnerError: the token is not one.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        spec = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError) as exc:
        raise RunnerError(
            f"{__name__}:{token[:40]}… is not a reference this package made ({exc})"
        ) from None
    if not isinstance(spec, dict):
        raise RunnerError(f"{__name__}:{token[:40]}… is not a reference this package made")
    return spec


def celery_app_of(spec: dict[str, Any]) -> Any:
    """The Celery app ``spec`` names (imported by Celery's ``-A`` rules, or unpickled)."""
    if "pickled_app" in spec:
        return pickle.loads(base64.b64decode(spec["pickled_app"]))
    from celery.app.utils import find_app

    app = find_app(spec["app"])
    for name, value in (spec.get("conf") or {}).items():
        setattr(app.conf, name, value)
    return app


def resolve(token: str) -> Pynenc:
    """The pynenc app the token names, this process set up as the worker's (module docs)."""
    found = _resolved.get(token)
    if found is not None:
        return found
    from celery._state import _set_task_join_will_block
    from celery.signals import worker_process_init

    from pynenc_celery_compat.worker import events
    from pynenc_celery_compat.worker.controller import Worker, configure_logging

    spec = decode(token)
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
    pynenc = worker.setup()
    if spec.get("child"):
        configure_logging(worker.loglevel)
        events.mark_pool_child(worker.hostname)
        _set_task_join_will_block(True)
        events.send(worker_process_init, sender=worker.hostname)
    _resolved[token] = pynenc
    return pynenc


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return resolve(name)
