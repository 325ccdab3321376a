"""Caller-chosen invocation ids: a second call with an id returns the first invocation.

The state backend's ``register`` inserts only ids it does not hold yet, atomically, and says
which ones it held: two callers racing with one id register it once. For an id it held,
the stored call must be the same task and arguments; it is then returned as it is (its
status, options and outcome: the first call's), and nothing is registered or published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pynenc.exceptions import InvocationConflictError, InvocationNotFoundError
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord, fingerprint

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope
    from pynenc.call_options import CallOptions
    from pynenc.orchestrator import Orchestrator


def single_call_id(options: CallOptions, num_calls: int) -> str | None:
    """The caller-chosen id of ``options``, which may name one call only."""
    chosen = options.invocation_id
    if chosen is not None and num_calls != 1:
        raise ValueError(
            f"invocation_id={chosen!r} names one call, not {num_calls}: give each call its own id"
        )
    return chosen


def id_source(options: CallOptions, num_calls: int) -> Callable[[], str]:
    """What gives each of ``num_calls`` calls routed with ``options`` its id, in call
    order: the caller-chosen ids (``invocation_ids``), the caller-chosen id of a single
    call (``invocation_id``), else new ids."""
    many = options.invocation_ids
    if many is None:
        chosen = single_call_id(options, num_calls)
        return new_invocation_id if chosen is None else lambda: chosen
    if len(many) != num_calls:
        raise ValueError(
            f"invocation_ids names {len(many)} calls, but {num_calls} are routed with them: "
            "give one id per call, and route the calls together (one Orchestrator.route "
            "or submit, as wf.execute_tasks does)"
        )
    return iter(many).__next__


def reuse_stored(
    orchestrator: Orchestrator,
    records: Sequence[InvocationRecord],
    inserted: Sequence[bool],
    envelopes: Sequence[Envelope],
) -> tuple[list[InvocationRecord], list[Envelope]]:
    """The records to return and the envelopes to publish when ``register`` found some ids
    stored already (``inserted`` says which were new): the stored records stand in for
    those calls, and their envelopes are dropped.

    :raises InvocationConflictError: a stored id holds another task or other arguments.
    """
    held = [r for r, new in zip(records, inserted, strict=True) if not new]
    stored = orchestrator.app.state_backend.get_many([r.invocation_id for r in held])
    found: dict[str, InvocationRecord] = {}
    for mine, theirs in zip(held, stored, strict=True):
        if theirs is None:  # purged between the two calls
            raise InvocationNotFoundError(
                f"Invocation {mine.invocation_id} was registered by another call and is gone "
                "already (purged?); call again to register it anew"
            )
        if theirs.task_id != mine.task_id or fingerprint(theirs.arguments) != fingerprint(
            mine.arguments
        ):
            raise InvocationConflictError(
                conflict_message(mine.invocation_id, theirs.task_id, mine.task_id)
            )
        found[mine.invocation_id] = theirs
    kept = [found.get(r.invocation_id, r) for r in records]
    return kept, [e for e in envelopes if e.invocation_id not in found]


def conflict_message(invocation_id: str, stored_task: str, task: str) -> str:
    """Why a caller-chosen id cannot be used again for this call of ``task``."""
    if stored_task == task:
        used = f"a call of task {task} with other arguments"
    else:
        used = f"a call of task {stored_task}, not of {task}"
    return (
        f"Invocation id {invocation_id!r} is already used by {used}. A caller-chosen id "
        "names one call: use it again only for the same task and arguments (that returns "
        "the same invocation, registered and run once), or choose another id."
    )
