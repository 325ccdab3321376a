"""The runner's part in composition (:class:`pynenc.records.Links`): what a released
invocation receives from those it waited for, and publishing the followers of an
invocation this runner ended.

The state backend releases followers in the step that ends an invocation (SCHEDULED, due
at once, or after a step's delay); the runner that ended it then publishes those due at
once (:func:`publish_followers`; a delayed one is left to the scheduler),
so a chain's next step starts as soon as a plain call would. A runner that dies between
the two steps loses nothing: the scheduler of the services lease publishes due
invocations, and redelivery covers one left REGISTERED unpublished.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import InvocationError
from pynenc.orchestrator.scheduling import publish_now
from pynenc.records import RECEIVE_ERROR, RECEIVE_LIST, RECEIVE_VALUE, InvocationStatus, Links
from pynenc.serializer import payload_to_exception

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope

logger = logging.getLogger("pynenc.runner")

#: The history reason of the REGISTERED entry a runner writes when it publishes what the end
#: of an invocation it ended released (its id follows; the entry names the runner). The
#: step before, written by the state backend when that invocation ended, says which one
#: released it (``released by …``, ``… failed``: :mod:`pynenc.state_backend._links`); a
#: follower published by the scheduler instead (the runner died in between) says ``due``.
PUBLISHED_BY = "published by the runner that ended "


def received(app: Pynenc, invocation_id: str, links: Links) -> tuple[Any, ...]:
    """What a released invocation receives before its own arguments (``links.receive``):
    the one result, the ordered results, or the failed invocation and its exception.
    One read of the records waited for; for results, without their links (a step before a
    group names every member in its own).

    :raises InvocationError: a record waited for is gone (purged).
    """
    from pynenc.invocation.distributed import DistributedInvocation

    if links.receive not in (RECEIVE_VALUE, RECEIVE_LIST, RECEIVE_ERROR):
        return ()  # an immutable chord body: nothing to read
    backend, after = app.state_backend, list(links.after)
    # a failed invocation is handed over whole: its links say what it received itself
    if links.receive == RECEIVE_ERROR:
        records = backend.get_many(after)
    else:
        records = backend.get_many_without_links(after)
    missing = [inv for inv, record in zip(links.after, records, strict=True) if record is None]
    if missing:
        raise InvocationError(
            f"Invocation {invocation_id} waited for {', '.join(missing)}, whose records are "
            "gone (purged?): it cannot receive their results"
        )
    handles = [DistributedInvocation.from_record(app, r) for r in records if r is not None]
    if links.receive == RECEIVE_VALUE:
        return (handles[0].result,)
    if links.receive == RECEIVE_LIST:
        return ([handle.result for handle in handles],)
    failed = records[0]  # RECEIVE_ERROR
    assert failed is not None
    return (handles[0], payload_to_exception(failed.error or {}))


def publish_followers(app: Pynenc, invocation_id: str, links: Links, runner_id: str) -> None:
    """Publish what the end of ``invocation_id`` released (those still waiting, or ended,
    are left as they are, and so are those due later: a step with a delay, which the
    scheduler publishes when due). A failure is logged: the scheduler publishes them when
    due."""
    try:
        publish_now(
            app.orchestrator,
            runner_id,
            list(links.then),
            PUBLISHED_BY + invocation_id,
            due_only=True,
        )
    except Exception:  # the scheduler publishes what is due: nothing is lost
        logger.exception(
            "Could not publish the followers of %s at once; the scheduler will", invocation_id
        )


def after_overrun(
    app: Pynenc, envelope: Envelope, runner_id: str, status: InvocationStatus | None
) -> None:
    """Publish what an invocation this runner failed past its time limit released (its
    error callbacks), as :func:`~pynenc.runner.execution.record` does for any other end;
    ``status``: what :func:`~pynenc.orchestrator.overrun.record_overrun` recorded."""
    links = envelope.links
    if status is InvocationStatus.FAILED and links is not None and links.then:
        publish_followers(app, envelope.invocation_id, links, runner_id)
