"""Registration control: a call folded into a pending invocation with the same key.

A task with ``registration_concurrency`` (TASK, ARGUMENTS or KEYS) registers a call only
when no invocation registered under the same key is still pending (not final); otherwise
the call is folded into the pending one (the task layer hands the caller a
:class:`~pynenc.invocation.distributed.ReusedInvocation` on it), and nothing is registered
or published. The check and the registration are one
atomic step of the state backend (``register_exclusive``), so callers racing on a key —
threads or processes — register exactly one invocation. Once that invocation is final, the
next call registers anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pynenc.conf.task_config import ConcurrencyControlType
from pynenc.exceptions import InvocationConcurrencyWithDifferentArgumentsError
from pynenc.orchestrator.concurrency import PENDING
from pynenc.records import InvocationRecord

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.call import Call

C = ConcurrencyControlType


def register(
    app: Pynenc, calls: Sequence[Call[Any, Any]], records: Sequence[InvocationRecord], now: float
) -> tuple[dict[int, str], list[bool]]:
    """Register ``records`` (one per call): the calls folded into a pending invocation,
    as ``{index: id of that invocation}`` (empty: none was), and, per record, whether it
    was stored as new (``False``: a caller-chosen id the backend held already).

    Calls of tasks without registration control take the plain ``register``.
    """
    backend = app.state_backend
    if all(call.task.concurrency is None for call in calls):  # no control: the fast path
        return {}, backend.register(records, now)
    keys = [
        None if (policy := call.task.concurrency) is None else policy.registration_key(r.arguments)
        for call, r in zip(calls, records, strict=True)
    ]
    if all(key is None for key in keys):
        return {}, backend.register(records, now)
    holders = backend.register_exclusive(records, keys, now, PENDING)
    # a record's own id back: its id was stored already (a caller-chosen id seen before,
    # or a retried script whose first run was applied): not new, as register() says
    reused = {
        index: holder
        for index, (holder, record) in enumerate(zip(holders, records, strict=True))
        if holder is not None and holder != record.invocation_id
    }
    return reused, [holder is None for holder in holders]


def check_reused(app: Pynenc, calls: Sequence[Call[Any, Any]], reused: dict[int, str]) -> None:
    """Refuse folded KEYS calls whose other arguments differ from the pending invocation's,
    for tasks with ``on_diff_non_key_args_raise``.

    :raises InvocationConcurrencyWithDifferentArgumentsError: naming the pending invocation
        and the arguments that differ.
    """
    checked = {
        index: holder
        for index, holder in reused.items()
        if (policy := calls[index].task.concurrency) is not None
        and policy.registration is C.KEYS
        and policy.raise_on_diff
    }
    if checked:
        stored = app.state_backend.get_many(list(checked.values()))
        for (index, holder), record in zip(checked.items(), stored, strict=True):
            _check_same_arguments(calls[index], holder, record)


def _check_same_arguments(
    call: Call[Any, Any], holder: str, record: InvocationRecord | None
) -> None:
    if record is None:  # finished and purged since: nothing to compare with
        return
    mine = call.serialized_arguments
    different = sorted(
        name
        for name in mine.keys() | record.arguments.keys()
        if mine.get(name) != record.arguments.get(name)
    )
    if different:
        policy = call.task.concurrency
        keys = ", ".join(policy.key_arguments) if policy is not None else ""
        raise InvocationConcurrencyWithDifferentArgumentsError(
            f"Task {call.task.task_id}: a call with the same key arguments ({keys}) as pending "
            f"invocation {holder} has other values for {', '.join(different)}. With "
            "registration_concurrency=KEYS and on_diff_non_key_args_raise=True such a call is "
            "refused; wait for that invocation, or call with the same arguments.",
            holder,
            different,
        )
