"""Tasks of ``python -m bench.deadlines``: one that blocks (to cancel), one that overruns."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pynenc import Pynenc

app = Pynenc(app_id="bench-deadlines")
LIMIT = 1.0  #: hard limit of ``overrun`` (seconds)


@app.task
def blocker(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


@app.task(timeout=LIMIT)
def overrun() -> None:
    time.sleep(600)
