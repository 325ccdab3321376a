"""The pynenc app behind a Celery app: built once per Celery app from its configuration.

Works for this package's :class:`~pynenc_celery_compat.Celery` and for a real
``celery.Celery`` (a partial migration keeps the project's app): the compat tasks follow the
current Celery app's configuration either way.
"""

from __future__ import annotations

import threading
from typing import Any

from pynenc import Pynenc
from pynenc_celery_compat.config import pynenc_config_values

_ATTRIBUTE = "_pynenc_compat_app"
_lock = threading.Lock()


def pynenc_app_for(celery_app: Any) -> Pynenc:
    """The :class:`~pynenc.Pynenc` app that runs ``celery_app``'s compat tasks.

    Built on first use from the Celery configuration (``broker_url``, ``result_backend``,
    …: see :func:`~pynenc_celery_compat.config.pynenc_config_values`) and kept on the Celery
    app; later changes to those settings do not move work already configured.
    """
    app = celery_app.__dict__.get(_ATTRIBUTE)
    if app is not None:
        return app  # type: ignore[no-any-return]
    with _lock:
        app = celery_app.__dict__.get(_ATTRIBUTE)
        if app is None:
            app = Pynenc(pynenc_config_values(celery_app))
            celery_app.__dict__[_ATTRIBUTE] = app
    declare_tasks(celery_app, app)
    return app  # type: ignore[no-any-return]


def declare_tasks(celery_app: Any, app: Pynenc) -> None:
    """Declare every compat task of ``celery_app``'s registry on ``app`` (so its runners
    consume their queues and find them by name)."""
    for task in list(celery_app.tasks.values()):
        # only tasks this layer made: Celery's own ``shared_task`` on a compat app makes
        # instances of the compat class without a function (they keep Celery's path)
        if "pynenc_task" in vars(task) and task.name not in app.tasks:
            task.pynenc_task_for(app)


def reset_pynenc_app(celery_app: Any) -> None:
    """Forget ``celery_app``'s pynenc app: the next use builds it from the current settings."""
    with _lock:
        celery_app.__dict__.pop(_ATTRIBUTE, None)
