"""Identifiers: task ids (``module.function`` or a declared name), invocation ids and runner ids."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from pynenc.exceptions import TaskDefinitionError


@dataclass(frozen=True, slots=True, eq=False)
class TaskId:
    """Names a task, and says where its function lives.

    A task is known by its **key**: ``module.func_name`` by default, or the ``name`` it was
    declared with (``@app.task(name="billing.charge")``). The key is what travels in
    messages and records; ``module`` and ``func_name`` still locate the function (runners
    import the module, unpickling looks the function up there). Two ids are equal when their
    keys are: a key names one task per app.
    """

    module: str
    func_name: str
    #: the declared name, or ``None`` for the default ``module.func_name``
    name: str | None = None
    #: ``name``, or ``module.func_name``: what travels in messages
    key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = self.name if self.name is not None else f"{self.module}.{self.func_name}"
        object.__setattr__(self, "key", key)

    @classmethod
    def from_key(cls, key: str) -> TaskId:
        """Parse ``module.func_name``; raises ``ValueError`` for a key without a dot.

        Only a default key says where its function lives: a declared name may say anything.
        """
        module, sep, func_name = key.rpartition(".")
        if not sep or not module or not func_name:
            raise ValueError(f"Invalid task id {key!r}: expected 'module.function'")
        return cls(module, func_name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskId) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.key


def check_task_name(name: object) -> str | None:
    """A task name given to a decorator: ``None`` (the default key), or a non-empty string
    of printable characters without surrounding spaces.

    :raises TaskDefinitionError: naming the value and what a name must be.
    """
    if name is None:
        return None
    if isinstance(name, str) and name and name == name.strip() and name.isprintable():
        return name
    raise TaskDefinitionError(
        f"Invalid task name {name!r}: a name is a non-empty string of printable characters "
        "without leading or trailing spaces, e.g. name='billing.charge'"
    )


def new_invocation_id() -> str:
    """A fresh, globally unique invocation id (128 random bits, hex)."""
    return os.urandom(16).hex()  # as unique as uuid4, a fifth of the cost


def new_runner_id(kind: str) -> str:
    """A runner id that says where the runner lives: ``kind@host:pid:suffix``."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
