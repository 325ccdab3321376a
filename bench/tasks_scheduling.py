"""The task ``python -m bench.scheduling`` measures; the app is configured from env.

A runner subprocess imports this module with ``PYNENC__*`` variables set and runs
``app.runner.run()``; the bench process registers the same function on an app of its own.
"""

from __future__ import annotations

import time

from pynenc import Pynenc

app = Pynenc()


@app.task
def started_at(index: int) -> float:
    """When the body started, by this machine's clock."""
    return time.time()
