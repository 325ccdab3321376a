"""First contact with a Redis state backend: an answer within a bounded time, or a clear error.

A server that restarts while pynenc uses it is waited for (``RETRY_FOR`` in
:mod:`pynenc.state_backend.redis`); one never reached yet may simply be wrong or down, and
a caller (or a runner starting) must learn that within ``state_backend_connect_timeout``,
whether the connection is refused at once or the server accepts and never answers.
"""

from __future__ import annotations

import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pynenc.conf.masking import masked_url
from pynenc.exceptions import StateBackendError, StateBackendUnavailableError

#: The smallest socket timeout of one attempt, however little time is left.
MIN_ATTEMPT = 0.05


def reach(url: str, app_id: str, timeout: float) -> None:
    """PING the server at ``url`` until it answers, for at most ``timeout`` seconds.

    :raises StateBackendError: naming the URL (password masked), what was tried and the
        option to raise; at once for a refused password.
    """
    shown = masked_url(url)
    deadline = time.monotonic() + timeout
    delay = 0.05
    attempts = 0
    while True:
        attempts += 1
        left = max(deadline - time.monotonic(), MIN_ATTEMPT)
        # its own short-lived client: the socket timeouts of the shared one are for a
        # server that answers (a slow script), not for one that may never answer
        probe = redis.Redis.from_url(
            url, socket_connect_timeout=left, socket_timeout=left, retry=Retry(NoBackoff(), 0)
        )
        try:
            probe.ping()
            return
        except redis.AuthenticationError as exc:
            raise StateBackendError(
                f"Redis state backend {shown} refused the credentials (app {app_id!r}): {exc}. "
                "Fix the user/password in state_backend_url (PYNENC__STATE_BACKEND_URL)."
            ) from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            last: Exception = exc
        except redis.RedisError as exc:
            raise StateBackendError(
                f"Redis state backend {shown} answered with an error (app {app_id!r}): {exc}"
            ) from exc
        finally:
            probe.close()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StateBackendUnavailableError(
                f"Redis state backend {shown} did not answer within {timeout} s (app "
                f"{app_id!r}): {attempts} connection attempts, the last one: "
                f"{str(last).rstrip('.')}. Check that the server runs and that "
                "state_backend_url (PYNENC__STATE_BACKEND_URL) names it; a slow network needs "
                "a larger state_backend_connect_timeout (PYNENC__STATE_BACKEND_CONNECT_TIMEOUT, "
                f"now {timeout} s)."
            ) from last
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.5)
