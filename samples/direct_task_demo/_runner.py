"""Start and stop the app's runner in a background thread (shared by the demo scripts)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import tasks


@contextmanager
def runner_thread() -> Iterator[None]:
    thread = threading.Thread(target=tasks.app.runner.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        tasks.app.runner.stop_runner_loop()  # must come before join()
        thread.join()
