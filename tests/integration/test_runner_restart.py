"""A runner stopped and started again runs every invocation it takes.

One ``ThreadRunner`` object is run, stopped and run again many times in a row, as the
test fixtures of a module do with ``app.runner``: what it claims in a run must start in
that run, whatever the previous run left behind (threads still finishing their last job
when it stopped, a thread still running a job it gave up on).
"""

from __future__ import annotations

import threading

from pynenc import Pynenc, ThreadRunner
from tests.apps import core

CYCLES = 200
#: Generous on a loaded machine; one call takes milliseconds. A lost invocation waits forever.
RESULT_TIMEOUT = 30.0


def test_a_restarted_runner_starts_what_it_takes(core_app: Pynenc) -> None:
    runner = ThreadRunner(core_app, threads=4)
    for cycle in range(CYCLES):
        # started as a fixture does it: no wait for the runner to consume before calling
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        try:
            # one call alone first: the first job of a run is the one a stale pool lost
            single = core.add(cycle, 0)
            assert single.get_result(timeout=RESULT_TIMEOUT) == cycle, f"cycle {cycle}"
            # several finishing at once: threads still busy when this run stops
            group = core.add.parallelize([(cycle, 1), (cycle, 2), (cycle, 3)])
            results = [inv.get_result(timeout=RESULT_TIMEOUT) for inv in group.invocations]
            assert results == [cycle + 1, cycle + 2, cycle + 3], f"cycle {cycle}"
        finally:
            runner.stop_runner_loop()
            thread.join(timeout=RESULT_TIMEOUT)
        assert not thread.is_alive(), f"cycle {cycle}: the runner did not stop"
