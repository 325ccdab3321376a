"""Registration control: a call folded into a pending invocation with the same key.

A task with ``registration_concurrency`` (TASK, ARGUMENTS or KEYS) registers a call only
when no invocation registered under the same key is still pending (not final); otherwise
the caller gets a :class:`~pynenc.invocation.distributed.ReusedInvocation` on the pending
one, and nothing is registered or published. The check and the registration are one
atomic step of the state backend (``register_exclusive``), so callers racing on a key —
threads or processes — register exactly one invocation. Once that invocation is final, the
next call registers anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pynenc.conf.task_config import ConcurrencyControlType
from pynenc.exceptions import InvocationConcurrencyWithDifferentArgumentsError
from pynenc.invocation.distributed import DistributedInvocation, ReusedInvocation
from pynenc.orchestrator.concurrency import PENDING
from pynenc.records import InvocationRecord

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.call import Call

C = ConcurrencyControlType


def register(
    app: Pynenc, calls: Sequence[Call[Any, Any]], records: Sequence[InvocationRecord], now: float
) -> dict[int, str]:
    """Register ``records`` (one per call); the calls folded into a pending invocation,
    as ``{index: id of that invocation}`` (empty: all were registered).

    Calls of tasks without registration control take the plain ``register``.
    """
    backend = app.state_backend
    if all(call.task.concurrency is None for call in calls):  # no control: the fast path
        backend.register(records, now)
        return {}
    keys = [
        None if (policy := call.task.concurrency) is None else policy.registration_key(r.arguments)
        for call, r in zip(calls, records, strict=True)
    ]
    if all(key is None for key in keys):
        backend.register(records, now)
        return {}
    holders = backend.register_exclusive(records, keys, now, PENDING)
    # a retried script whose first run was applied finds the record itself holding its key
    return {
        index: holder
        for index, (holder, record) in enumerate(zip(holders, records, strict=True))
        if holder is not None and holder != record.invocation_id
    }


def reuse(
    app: Pynenc,
    calls: Sequence[Call[Any, Any]],
    invocations: list[DistributedInvocation[Any, Any]],
    reused: dict[int, str],
) -> list[DistributedInvocation[Any, Any]]:
    """``invocations`` with the folded calls' handles replaced by reused ones.

    :raises InvocationConcurrencyWithDifferentArgumentsError: a KEYS call whose other
        arguments differ from the pending invocation's, for a task with
        ``on_diff_non_key_args_raise`` (the other calls were registered and published).
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
    handles = list(invocations)
    for index, holder in reused.items():
        call = calls[index]
        handles[index] = ReusedInvocation(call.task, call.arguments, holder)
    return handles


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
