"""Runners, chosen by class name through an explicit table (``runner_cls``)."""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from pynenc.exceptions import ConfigError
from pynenc.runner.background import BackgroundRunner
from pynenc.runner.base import BaseRunner
from pynenc.runner.thread import ThreadRunner

if TYPE_CHECKING:
    from pynenc.app import Pynenc

#: runner class name -> "module:Class"; imported when chosen. Extend with register_runner().
RUNNERS: dict[str, str] = {
    "ThreadRunner": "pynenc.runner.thread:ThreadRunner",
    "MultiThreadRunner": "pynenc.runner.supervisor:MultiThreadRunner",
    "ProcessRunner": "pynenc.runner.process:ProcessRunner",
    "PersistentProcessRunner": "pynenc.runner.supervisor:PersistentProcessRunner",
}


def register_runner(name: str, target: str) -> None:
    """Make ``runner_cls=name`` select the class at ``module:Class``."""
    RUNNERS[name] = target


def create_runner(app: Pynenc, name: str) -> BaseRunner:
    target = RUNNERS.get(name)
    if target is None:
        hint = difflib.get_close_matches(name, RUNNERS, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(
            f"Unknown runner_cls {name!r}; valid: {', '.join(sorted(RUNNERS))}.{did_you_mean}"
        )
    module_name, _, class_name = target.partition(":")
    runner_cls: type[BaseRunner] = getattr(importlib.import_module(module_name), class_name)
    return runner_cls(app)


__all__ = [
    "RUNNERS",
    "BackgroundRunner",
    "BaseRunner",
    "ThreadRunner",
    "create_runner",
    "register_runner",
]
