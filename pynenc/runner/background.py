"""A runner in a background thread of the current process, for scripts and tests.

``with app.running_in_background() as runner:`` starts ``app.runner`` in a daemon thread
and enters the block once the runner consumes. Leaving the block, even by an exception,
stops the runner gracefully and waits for its thread. A runner that cannot start, crashes
or does not stop in time raises :class:`~pynenc.exceptions.RunnerError` rather than
hanging or passing in silence.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from pynenc.conf.masking import masked_url
from pynenc.exceptions import RunnerError

if TYPE_CHECKING:
    from pynenc.runner.base import BaseRunner

logger = logging.getLogger("pynenc.runner")

#: How often a start that is not yet consuming checks whether the thread died meanwhile.
_START_CHECK = 0.05

#: Runners whose ``run()`` is in one of our threads: a runner runs once at a time.
_ACTIVE: set[int] = set()
_ACTIVE_LOCK = threading.Lock()


class BackgroundRunner:
    """Runs ``runner`` in a daemon thread for the duration of a ``with`` block.

    :param runner: the runner to run (``app.running_in_background()`` passes ``app.runner``).
    :param start_timeout: seconds the runner may take to start consuming.
    :param stop_timeout: seconds the runner may take to stop on exit; by default its
        ``runner.stop_grace`` plus 30 (running work may finish during the grace period).
    """

    def __init__(
        self,
        runner: BaseRunner,
        start_timeout: float = 30.0,
        stop_timeout: float | None = None,
    ) -> None:
        self.runner = runner
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        #: the thread running the runner (the latest one, once started)
        self.thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> BaseRunner:
        self.start()
        return self.runner

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Ctrl-C in the block: the user wants out, skip the grace period
            self.stop(immediate=isinstance(exc, KeyboardInterrupt))
        except RunnerError:
            if exc is None:
                raise
            # the block's own exception is the one to see; the runner's goes to the log
            logger.exception("While leaving a block that raised %r", exc)

    def start(self) -> None:
        """Start the runner's thread and return once the runner consumes.

        :raises RunnerError: the runner is already running in the background, failed to
            start (its exception is the cause), or did not consume within ``start_timeout``.
        """
        runner = self.runner
        with _ACTIVE_LOCK:
            if id(runner) in _ACTIVE:
                raise RunnerError(
                    f"Runner {runner.runner_id} is already running in the background; "
                    "use it as it is, or leave the first block before starting it again."
                )
            _ACTIVE.add(id(runner))
        self._error = None
        self.thread = threading.Thread(
            target=self._run, name=f"pynenc-background-{runner.runner_id}", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        # consuming.wait returns at once when it is set; the short timeout only bounds how
        # late a thread that died without consuming is noticed
        while not runner.consuming.wait(_START_CHECK):
            if not self.thread.is_alive():
                self.thread.join()
                raise RunnerError(
                    f"Runner {runner.runner_id} failed to start in the background: {self._error!r}"
                ) from self._error
            if time.monotonic() > deadline:
                self.stop(immediate=True)
                raise RunnerError(
                    f"Runner {runner.runner_id} did not start consuming within "
                    f"{self.start_timeout} s (start_timeout); is the state backend "
                    f"{masked_url(runner.app.conf.state_backend_url)} reachable? (An "
                    "unreachable broker does not hold the start: it is waited for.)"
                )

    def stop(self, immediate: bool = False) -> None:
        """Stop the runner (gracefully unless ``immediate``) and wait for its thread.

        :raises RunnerError: it did not stop within ``stop_timeout``, or it crashed while
            running (its exception is the cause).
        """
        thread = self.thread
        if thread is None:
            return
        runner = self.runner
        if thread.is_alive():  # a stop request to a runner that is gone would stop its next run
            runner.stop_runner_loop(immediate=immediate)
        timeout = self.stop_timeout
        if timeout is None:
            timeout = runner.app.conf.runner.stop_grace + 30.0
        thread.join(timeout)
        if thread.is_alive():
            raise RunnerError(
                f"Runner {runner.runner_id} did not stop within {timeout} s (stop_timeout); "
                f"its thread {thread.name} still runs. A task may ignore the stop: "
                "lower runner.stop_grace, or raise stop_timeout."
            )
        if self._error is not None:
            raise RunnerError(
                f"Runner {runner.runner_id} crashed in the background: {self._error!r}"
            ) from self._error

    def _run(self) -> None:
        try:
            self.runner.run()
        except BaseException as exc:
            self._error = exc
            logger.exception("Runner %s crashed in the background", self.runner.runner_id)
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(id(self.runner))
