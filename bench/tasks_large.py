"""The task of the large-argument bench (``bench/large_args.py``); configured from env.

The runner subprocess imports this module with the bench's ``PYNENC__…`` settings and runs
``app.runner.run()``; the bench process uses the same module with its own settings.
"""

from __future__ import annotations

from pynenc import Pynenc

app = Pynenc()


@app.task
def measure(data: str, index: int) -> int:
    return len(data) + index
