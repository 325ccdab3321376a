"""Tasks for the hostile-user QA tests (module level: worker processes import them).

The app's broker and result backend come from ``QA_HOSTILE_URL`` (a fresh Redis database);
runners notice a dead runner within seconds (``pynenc`` setting).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc_celery_compat import Celery

URL = os.environ.get("QA_HOSTILE_URL", "memory://")
app = Celery("qa_hostile", broker=URL, backend=URL, set_as_current=False)
app.conf.pynenc = {
    "runner": {"heartbeat_interval": 0.2, "dead_after": 2, "stop_grace": 5, "redeliver_after": 3}
}


@app.task(track_started=True)
def record_then_sleep(path: str, seconds: float) -> int:
    """Appends a line per attempt to ``path``, then sleeps: the number of attempts."""
    with Path(path).open("a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return len(Path(path).read_text().splitlines())


@app.task
def add(x: int, y: int) -> int:
    return x + y
