"""A real ``celery.Celery`` app's ``AsyncResult`` and ``control.revoke`` for both worlds.

In a partial migration the project's app stays a real ``celery.Celery``: its Celery tasks
store results in Celery's result backend, its compat tasks in pynenc's state backend. Once
the compat layer meets such an app (a compat ``shared_task`` is declared while the app
exists, is registered on it when it finalizes, binds to it, or its pynenc app is built),
:func:`install` gives that one app instance:

- ``app.AsyncResult``: a subclass of the app's own result class whose construction reads
  pynenc for a compat call and is Celery's own result otherwise. With ``task_name`` (what
  ``task.AsyncResult(id)`` and a Celery task's ``delay()`` pass) the task decides, with no
  lookup; without it, one ``get_record`` in pynenc's state backend tells the ids apart
  (an id pynenc does not know, or any id while the app runs eagerly, is Celery's: PENDING
  for unknown ids, as before).
- ``app.control.revoke``: pynenc's durable cancel for the ids pynenc knows, Celery's
  broadcast for the others.

Nothing changes on the class, so apps the layer never met keep Celery's code and cost.
``celery.result.AsyncResult(id)`` (the class itself, not through an app) stays Celery's.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from celery.local import Proxy
from celery.utils.imports import symbol_by_name
from kombu.utils.objects import cached_property

from pynenc.exceptions import InvocationNotFoundError

#: app attribute marking an app whose ``AsyncResult``/``control`` were installed (or that
#: needs none: this package's own ``Celery``)
_ATTRIBUTE = "_pynenc_compat_mixed"
_lock = threading.Lock()


def install(celery_app: Any) -> None:
    """Make ``celery_app``'s ``AsyncResult`` and ``control.revoke`` answer for compat calls
    too (see the module docs); once per app, a no-op for this package's ``Celery``."""
    if isinstance(celery_app, Proxy):
        celery_app = celery_app._get_current_object()
    if celery_app.__dict__.get(_ATTRIBUTE) is not None:
        return
    with _lock:
        if celery_app.__dict__.get(_ATTRIBUTE) is not None:
            return
        # only a real Celery app (this package's ``Celery`` has its own ``AsyncResult`` and
        # ``control``), and only what its class keeps from Celery
        cls = type(celery_app)
        if _is_celerys(cls, "AsyncResult"):
            celery_app.__dict__["AsyncResult"] = _result_class(celery_app.AsyncResult)
            if _is_celerys(cls, "control"):
                _install_control(celery_app)
        celery_app.__dict__[_ATTRIBUTE] = True


def _is_celerys(cls: type, name: str) -> bool:
    return isinstance(inspect.getattr_static(cls, name, None), cached_property)


# -- AsyncResult ------------------------------------------------------------------------------


def _result_class(celery_class: type) -> type:
    """``celery_class`` (the app's own result class) constructing pynenc's result for a
    compat call's id."""
    construct: Any = celery_class.__new__  # object's: Celery's class defines none

    def __new__(
        cls: type,
        id: str,
        backend: Any = None,
        task_name: str | None = None,
        app: Any = None,
        parent: Any = None,
        **kwargs: Any,
    ) -> Any:
        celery_app = app if app is not None else cls.app  # type: ignore[attr-defined]
        if id and reads_pynenc(celery_app, id, task_name):
            from pynenc_celery_compat.result import AsyncResult

            return AsyncResult(id, app=celery_app, task_name=task_name, parent=parent, pynencs=True)
        return construct(cls)

    return type(
        celery_class.__name__,
        (celery_class,),
        {
            "__new__": __new__,
            "__module__": celery_class.__module__,
            "__doc__": celery_class.__doc__,
        },
    )


def reads_pynenc(celery_app: Any, task_id: str, task_name: str | None = None) -> bool:
    """Whether ``task_id`` on ``celery_app`` is a compat call pynenc answers for: by its
    task when ``task_name`` names a registered one (no lookup), else by whether pynenc's
    state backend knows the id. Never while the app runs eagerly (Celery's backend holds
    eager results)."""
    from pynenc_celery_compat.eager import runs_eagerly
    from pynenc_celery_compat.registry import made_here
    from pynenc_celery_compat.routing import routed_to_celery

    task = celery_app._tasks.get(task_name) if task_name else None
    if task is not None and not made_here(task):
        return False  # a Celery task's: nothing else is read
    if runs_eagerly(celery_app):
        return False
    if task is not None:
        return not routed_to_celery(task, celery_app)
    return knows(celery_app, task_id)


def celerys_call(celery_app: Any, task_id: str, task_name: str | None = None) -> bool:
    """Whether ``task_id`` looked up on a real ``celery.Celery`` app is a call Celery ran (so
    ``pynenc_celery_compat.result.AsyncResult(id)`` reads Celery's backend, as
    ``app.AsyncResult(id)`` does): in a partial migration a module whose imports moved still
    looks up ids of tasks not migrated yet. Always false on this package's ``Celery``."""
    if not _is_celerys(type(celery_app), "AsyncResult"):
        return False
    return not reads_pynenc(celery_app, task_id, task_name)


def knows(celery_app: Any, task_id: str) -> bool:
    """Whether pynenc registered a call ``task_id`` (one state-backend read)."""
    from pynenc_celery_compat.bridge import pynenc_app_for

    try:
        pynenc_app_for(celery_app).orchestrator.get_record(task_id)
    except InvocationNotFoundError:
        return False
    return True


# -- control.revoke ---------------------------------------------------------------------------


def _install_control(celery_app: Any) -> None:
    """Give the app's ``control`` (made already, or when first used) a ``revoke`` that
    cancels compat calls in pynenc."""
    made = celery_app.__dict__.get("control")
    base = type(made) if made is not None else symbol_by_name(celery_app.control_cls)
    mixed = _mixed_control(base)
    if made is not None:
        made.__class__ = mixed  # keeps references to it (``control = app.control``)
    else:
        celery_app.control_cls = mixed


_controls: dict[type, type] = {}


def _mixed_control(base: type) -> type:
    found = _controls.get(base)
    if found is None:

        def revoke(
            self: Any,
            task_id: Any,
            destination: Any = None,
            terminate: bool = False,
            signal: str = "SIGTERM",
            **kwargs: Any,
        ) -> Any:
            """Celery's ``revoke``, except that calls pynenc knows are cancelled in pynenc
            (durable; a running one only with ``terminate=True``, as Celery)."""
            from pynenc_celery_compat.revoking import revoke_ids

            ids = [task_id] if isinstance(task_id, str) else list(task_id)
            unknown = revoke_ids(self.app, ids, terminate, by="app.control.revoke")
            if not unknown:
                return None
            rest = task_id if isinstance(task_id, str) else unknown
            return base.revoke(self, rest, destination, terminate, signal, **kwargs)  # type: ignore[attr-defined]

        found = type(base.__name__, (base,), {"revoke": revoke, "__module__": __name__})
        _controls[base] = found
    return found


__all__ = ["install", "knows", "reads_pynenc"]
