"""Celery apps' pynenc apps by reference, for pynenc's ``--app`` and its worker processes.

``pynenc_celery_compat.apps:proj.celery:app`` is the pynenc app of the Celery app ``app`` in
module ``proj.celery``: ``pynenc --app pynenc_celery_compat.apps:proj.celery:app runner start``
runs its compat tasks, and process runners started for a Celery app's pynenc app import it
this way in their worker processes (set as its ``reference`` when a runner starts).
"""

from __future__ import annotations

import importlib
from typing import Any

from pynenc import Pynenc
from pynenc_celery_compat.bridge import prepare_for_runner, pynenc_app_for


def pynenc_app_of(reference: str) -> Pynenc:
    """The pynenc app of the Celery app at ``reference`` (``module:attribute``), with the
    app's task modules imported, as a runner needs them.

    :raises AttributeError: ``reference`` is not ``module:attribute`` of a Celery app.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise AttributeError(
            f"{reference!r} is no Celery app reference: use "
            "pynenc_celery_compat.apps:package.module:app"
        )
    celery_app: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        celery_app = getattr(celery_app, part)
    if not hasattr(celery_app, "conf") or not hasattr(celery_app, "tasks"):
        raise AttributeError(f"{reference} is {type(celery_app).__name__}, not a Celery app")
    app = pynenc_app_for(celery_app)
    prepare_for_runner(celery_app, app)
    return app


def __getattr__(name: str) -> Pynenc:
    if ":" not in name:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return pynenc_app_of(name)
