"""``python launch.py -m MODULE ARGS…``: run a module as ``python -m`` would, with every Celery
app of the process set to ``pynenc_eager_runner = True``.

A migrated suite that runs its tasks eagerly (``task_always_eager``) runs the compat tasks
with Celery's own eager code; this launcher sends them to pynenc's in-process runner
instead (pynenc's production path: serialization, a runner thread, pynenc's states), with
nothing changed in the project. It imports nothing of the harness: it runs in the project's
environment.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any


def _opt_in(app: Any) -> None:
    app.conf.pynenc_eager_runner = True


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        sys.exit("usage: launch.py -m MODULE [ARGS...]")
    # as `python -m` does: the working folder first, not this file's folder (whose modules
    # must not shadow the project's)
    sys.path[0] = os.getcwd()
    from celery import _state, current_app

    # apps made later (the project's own) when they finalize, and Celery's default app now
    _state.connect_on_app_finalize(_opt_in)
    _opt_in(current_app)
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
