"""The same callers against the original module on Celery and the migrated one on pynenc.

``python main.py`` (``make demo`` runs it): no server, everything in this process. The
original tasks run on Celery's test worker (threads pool), the migrated ones on a pynenc
runner in a thread (``pynenc_celery_compat.contrib.testing.worker.start_worker``, the same
call), both configured by the same real Celery app (``celery_app.py``).
"""

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import callers
import celery_app
import tasks
import tasks_original
from celery.contrib.testing import worker as celery_testing_worker

from pynenc_celery_compat.contrib.testing import worker as pynenc_testing_worker


@contextlib.contextmanager
def celery_worker() -> Iterator[None]:
    """Celery's test worker in a thread, as a project's tests start one."""
    start = celery_testing_worker.start_worker
    with start(celery_app.app, pool="threads", perform_ping_check=False, loglevel="ERROR"):
        yield


@contextlib.contextmanager
def pynenc_runner() -> Iterator[None]:
    """The same call, from pynenc_celery_compat: a pynenc runner in a thread."""
    start = pynenc_testing_worker.start_worker
    with start(celery_app.app, pool="threads", perform_ping_check=False, loglevel="ERROR"):
        yield


def run(label: str, module: Any, worker: Any, where: str) -> dict[str, Any]:
    """Every caller against ``module`` while ``worker()`` runs its tasks."""
    with worker():
        start = time.perf_counter()
        values = callers.every_call(module)
        seconds = time.perf_counter() - start
    print(f"{label}: {module.__name__}.py on {where}: {len(values)} calls in {seconds:.2f} s")
    return values


def main() -> None:
    print("Celery migration demo: one import line changed in tasks.py")
    print("  tasks_original.py  from celery import current_task, shared_task")
    print("  tasks.py           from pynenc_celery_compat import current_task, shared_task")
    print("celery_app.py (a real celery.Celery) and callers.py are the same for both.")
    print("The Celery worker logs the give-up of send_welcome_email(13): expected.\n")
    original = run("original", tasks_original, celery_worker, "a Celery worker (threads)")
    migrated = run("migrated", tasks, pynenc_runner, "a pynenc runner (same app settings)")
    print()
    same = True
    for call, value in original.items():
        print(call)
        if migrated[call] == value:
            print(f"    both      {value}")
        else:
            same = False
            print(f"    original  {value}\n    migrated  {migrated[call]}   <- DIFFERENT")
    if not same:
        raise SystemExit("celery migration demo: the results differ")
    print("\ncelery migration OK: the migrated module gives the original's results")


if __name__ == "__main__":
    main()
