"""The fixture codebases are inputs to the tools, not tests of this suite.

Tests here run migrated modules in this process (``exec`` of a rewrite, a fixture's
tasks): whatever shared tasks they declare is forgotten after each test, or Celery would
add them to every app finalized later, and prefork worker processes of later tests would
be told to import modules (``qa_tasks``) that exist nowhere.
"""

import sys
from collections.abc import Iterator

import pytest
from celery import _state as celery_state

from pynenc_celery_compat import registry

collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(autouse=True)
def shared_tasks_forgotten() -> Iterator[None]:
    finalizers = set(celery_state._on_app_finalizers)
    shared = dict(registry._tasks)
    modules = set(sys.modules)
    try:
        yield
    finally:
        for name in set(sys.modules) - modules:
            if not name.startswith(("pynenc", "celery", "kombu", "libcst", "_")):
                del sys.modules[name]
        for finalizer in set(celery_state._on_app_finalizers) - finalizers:
            if _declared_nowhere(finalizer):
                celery_state._on_app_finalizers.discard(finalizer)
        for name, task in list(registry._tasks.items()):
            if name not in shared and getattr(task, "__module__", None) not in sys.modules:
                del registry._tasks[name]


def _declared_nowhere(finalizer: object) -> bool:
    """Whether a shared task's finalizer declares a function of a module no import finds
    (exec'd here, or forgotten above): Celery's, kept for modules that stay imported."""
    for cell in getattr(finalizer, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        module = getattr(value, "__module__", None)
        if callable(value) and module is not None and module not in sys.modules:
            return True
    return False
