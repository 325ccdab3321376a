"""Building the errors a task class chooses (``Task.soft_timeout_error``,
``Task.timeout_error``, ``Task.cancelled_error``): pynenc's by default, a layer's own
classes (Celery's ``SoftTimeLimitExceeded``, …) otherwise.

A leaf module: the attempt, the orchestrator and the invocations use it.

The constructor contract: a subclass of pynenc's default class is called like the default
(message first, then the default's other arguments, e.g. ``limit``); any other ``Exception``
subclass is called with the message alone. On either, the default's attributes (``limit``;
``cancelled_by``, ``cancelled_at``, ``reason``, ``invocation_id``) are then set on the
instance where it takes them (a class with ``__slots__`` or read-only properties keeps
what it has). Stored with the invocation, the error travels like any task exception: the
waiter gets the same class back, with those attributes.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pynenc.exceptions import TaskDefinitionError

#: The ``Task`` class attributes that name error classes.
ERROR_CLASS_ATTRIBUTES = ("soft_timeout_error", "timeout_error", "cancelled_error")


def build_error(
    cls: type[Exception],
    default: type[Exception],
    message: str,
    args: tuple[Any, ...] = (),
    attributes: dict[str, Any] | None = None,
) -> Exception:
    """An instance of ``cls`` for ``message`` (see the module's constructor contract):
    ``cls(message, *args)`` for ``default`` and its subclasses, else ``cls(message)``;
    except for ``default`` itself, ``attributes`` are then set where the instance takes
    them."""
    if cls is default:
        return cls(message, *args)
    # a subclass may pass the arguments on to another base (one of Celery's classes, say)
    # rather than to the default's constructor: the attributes are set either way
    error = cls(message, *args) if issubclass(cls, default) else cls(message)
    for name, value in (attributes or {}).items():
        # slots or a read-only property: the instance keeps what it has
        with contextlib.suppress(AttributeError, TypeError):
            setattr(error, name, value)
    return error


def check_error_class(where: str, value: object) -> None:
    """Refuse an error class attribute that is not an ``Exception`` subclass.

    :raises TaskDefinitionError: naming ``where`` and what it holds.
    """
    if not (isinstance(value, type) and issubclass(value, Exception)):
        raise TaskDefinitionError(
            f"{where} must be an Exception subclass (called with a message), got {value!r}"
        )
