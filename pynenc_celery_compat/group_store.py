"""``GroupResult.save()``, ``GroupResult.restore(id)`` and ``.delete()`` for compat groups.

A saved group is its shape as ``as_tuple()`` gives it (its id, its parent, its members' ids,
nested groups included); the members' outcomes stay where they are (pynenc's records).

Where it is kept: where Celery keeps it when the app has a Celery result backend that keeps
groups (Redis, a database, a cache: ``result_backend``), so that modules still on Celery's
``GroupResult`` find what migrated ones saved and the other way round, and it expires after
``result_expires`` as in Celery. An app without one (no ``result_backend``: Celery's
``DisabledBackend``; ``rpc://``, which cannot keep groups) keeps it in pynenc's state backend,
one value (namespace :data:`GROUPS`, keyed by the group id, JSON), until it is deleted or the
state backend is purged: every process sharing the state backend restores it.
"""

from __future__ import annotations

import json
from typing import Any

#: state backend value namespace of saved groups (apps without a Celery store for them)
GROUPS = "celery-groups"


def save(group: Any, backend: Any = None) -> Any:
    """Keep ``group`` under its id (replacing a group saved before under it); returns it.

    :raises ValueError: the group has no id to restore it by.
    """
    if not group.id:
        raise ValueError(
            f"GroupResult.save(): {group!r} has no id to restore it by: give it one, "
            "GroupResult(id, results), or save the group result a group call returned"
        )
    store = celery_store(backend, group.app)
    if store is not None:
        store.save_group(group.id, group)
        return group
    shape = json.dumps(group.as_tuple(), separators=(",", ":"))
    _values(group.app).put_value(GROUPS, str(group.id), shape)
    return group


def restore(group_id: str, backend: Any, celery_app: Any) -> Any:
    """The group saved under ``group_id`` as this package's ``GroupResult`` (members read
    from pynenc), or ``None`` when none is saved, as in Celery."""
    store = celery_store(backend, celery_app)
    if store is not None:
        found = store.restore_group(group_id)
        return None if found is None else _rebuild(found.as_tuple(), celery_app)
    text = _values(celery_app).get_value(GROUPS, str(group_id))
    return None if text is None else _rebuild(json.loads(text), celery_app)


def delete(group_id: str, backend: Any, celery_app: Any) -> None:
    """Forget the group saved under ``group_id`` (nothing happens if none is)."""
    store = celery_store(backend, celery_app)
    if store is not None:
        store.delete_group(group_id)
    else:
        _values(celery_app).delete_value(GROUPS, str(group_id))


def celery_store(backend: Any, celery_app: Any) -> Any:
    """The Celery result backend that keeps groups for ``celery_app`` (``backend`` when
    given, else the app's), or ``None`` when it cannot keep them."""
    from celery.backends.base import BaseBackend

    if backend is not None:
        store = backend
    else:
        try:
            store = celery_app.backend
        except ImportError:  # db+sqlite:// without SQLAlchemy: pynenc's SQLite keeps them
            return None
    keeps_groups = callable(getattr(store, "_save_group", None))  # not DisabledBackend
    # rpc:// replaces save_group with a NotImplementedError
    if keeps_groups and type(store).save_group is BaseBackend.save_group:
        return store
    return None


def _values(celery_app: Any) -> Any:
    from pynenc_celery_compat.bridge import pynenc_app_for

    return pynenc_app_for(celery_app).state_backend


def _rebuild(shape: Any, celery_app: Any) -> Any:
    """A result from its ``as_tuple()`` shape: ``((id, parent), members)``, ``members``
    ``None`` for a single call's result (an id alone stands for ``(id, None)``)."""
    from pynenc_celery_compat.result import AsyncResult, GroupResult

    head, members = shape
    result_id, parent = (head, None) if isinstance(head, str) else head
    before = None if parent is None else _rebuild(parent, celery_app)
    if members is None:
        return AsyncResult(result_id, app=celery_app, parent=before)
    nested = [_rebuild(member, celery_app) for member in members]
    return GroupResult(result_id, nested, parent=before, app=celery_app)


__all__ = ["GROUPS", "celery_store", "delete", "restore", "save"]
