"""``delay_on_commit``/``apply_async_on_commit``: Django's ``transaction.on_commit``, as
Celery's ``DjangoTask`` uses it (imported only when called: Django is optional)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def django_on_commit(call: Callable[[], Any]) -> None:
    """``django.db.transaction.on_commit(call)``.

    :raises ImportError: Django is not installed (``delay_on_commit`` and
        ``apply_async_on_commit`` are Django's transaction hooks).
    """
    try:
        from django.db import transaction  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError(
            "delay_on_commit()/apply_async_on_commit() need Django (django.db.transaction): "
            "install django, or call delay()/apply_async() directly"
        ) from exc
    transaction.on_commit(call)
