"""Identifiers: task ids (``module.function``), invocation ids and runner ids."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TaskId:
    """Names a task by the module and the module-level name of its function."""

    module: str
    func_name: str

    @property
    def key(self) -> str:
        """The dotted form, ``module.func_name``: what travels in messages."""
        return f"{self.module}.{self.func_name}"

    @classmethod
    def from_key(cls, key: str) -> TaskId:
        """Parse ``module.func_name``; raises ``ValueError`` for a key without a dot."""
        module, sep, func_name = key.rpartition(".")
        if not sep or not module or not func_name:
            raise ValueError(f"Invalid task id {key!r}: expected 'module.function'")
        return cls(module, func_name)

    def __str__(self) -> str:
        return self.key


def new_invocation_id() -> str:
    """A fresh, globally unique invocation id (128 random bits, hex)."""
    return os.urandom(16).hex()  # as unique as uuid4, a fifth of the cost


def new_runner_id(kind: str) -> str:
    """A runner id that says where the runner lives: ``kind@host:pid:suffix``."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
