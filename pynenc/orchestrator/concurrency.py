"""Concurrency control and the global rate limit: who may register, who may run now.

Written once over four state-backend primitives: ``register_exclusive`` (registration
control), ``acquire_slot``/``release_slot`` (running control) and ``take_rate`` (the rate
limit). A task's options become a :class:`ConcurrencyPolicy` when the task is declared; a
task without controls has none, and nothing here runs for it.

Keys name what a limit counts, per scope of :class:`ConcurrencyControlType`:

- TASK: the task itself (``<task>``);
- ARGUMENTS: the task and a digest of every serialized argument (``<task>#a:<digest>``);
- KEYS: the task and a digest of the ``key_arguments`` only (``<task>#k:<digest>``).

Arguments compare by their serialized form: equal values that serialize differently (a
JSON dict built in another key order) count as different.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pynenc.conf.rate import RateLimit
from pynenc.conf.task_config import ConcurrencyControlType, TaskConfig
from pynenc.exceptions import ConfigError
from pynenc.orchestrator.transitions import TRANSITIONS
from pynenc.records import InvocationStatus, fingerprint
from pynenc.state_backend.base import StateBackend

C = ConcurrencyControlType
#: An invocation holds its registration key while in any status that is not final.
PENDING: frozenset[InvocationStatus] = frozenset(s for s, r in TRANSITIONS.items() if not r.final)
#: An invocation holds a running slot while RUNNING; once it leaves RUNNING (finished,
#: retried, rerouted by recovery) its slot no longer counts, even if never released.
HOLDS_SLOT: frozenset[InvocationStatus] = frozenset({InvocationStatus.RUNNING})


def scope_key(
    scope: ConcurrencyControlType,
    task_key: str,
    key_arguments: tuple[str, ...],
    arguments: Mapping[str, str],
) -> str | None:
    """The key a limit of ``scope`` counts ``arguments`` (serialized) under; ``None``
    for DISABLED."""
    if scope is C.DISABLED:
        return None
    if scope is C.TASK:
        return task_key
    if scope is C.ARGUMENTS:
        return f"{task_key}#a:{fingerprint(dict(arguments))}"
    keyed = {name: arguments[name] for name in key_arguments}
    return f"{task_key}#k:{fingerprint(keyed)}"


@dataclass(frozen=True, slots=True)
class ConcurrencyPolicy:
    """The controls of one task, checked when it is declared (see :meth:`of`)."""

    task_key: str
    registration: ConcurrencyControlType = C.DISABLED
    running: ConcurrencyControlType = C.DISABLED
    key_arguments: tuple[str, ...] = ()
    #: KEYS registration: a duplicate key whose other arguments differ raises
    raise_on_diff: bool = False
    #: running control: a held-back invocation waits (True) or fails (False)
    reroute: bool = True
    max_running: int = 1
    rate: RateLimit | None = None

    @classmethod
    def of(
        cls, task_key: str, conf: TaskConfig, parameters: Collection[str]
    ) -> ConcurrencyPolicy | None:
        """The policy of task ``task_key`` (whose function takes ``parameters``), or
        ``None`` when it has no control at all: the fast path.

        :raises ConfigError: KEYS without ``key_arguments``, a key argument the function
            does not take, or ``max_running_per_key`` without a running scope.
        """
        key_arguments = tuple(dict.fromkeys(conf.key_arguments))
        unknown = [name for name in key_arguments if name not in parameters]
        if unknown:
            raise ConfigError(
                f"Task {task_key}: key_arguments names {', '.join(map(repr, unknown))}, which "
                f"the function does not take; its arguments are: "
                f"{', '.join(parameters) or 'none'}."
            )
        keys_scoped = [
            name
            for name in ("registration_concurrency", "running_concurrency")
            if getattr(conf, name) is C.KEYS
        ]
        if keys_scoped and not key_arguments:
            raise ConfigError(
                f"Task {task_key}: {' and '.join(keys_scoped)}=KEYS needs key_arguments, "
                "the names of the arguments whose values make the key, e.g. "
                "key_arguments=('account_id',); or choose the TASK or ARGUMENTS scope."
            )
        if conf.max_running_per_key > 1 and conf.running_concurrency is C.DISABLED:
            raise ConfigError(
                f"Task {task_key}: max_running_per_key={conf.max_running_per_key} limits "
                "running invocations per key, but running_concurrency is DISABLED; set "
                "running_concurrency to TASK (N at a time for the task), ARGUMENTS or KEYS."
            )
        if (
            conf.registration_concurrency is C.DISABLED
            and conf.running_concurrency is C.DISABLED
            and conf.rate_limit is None
        ):
            return None
        return cls(
            task_key,
            conf.registration_concurrency,
            conf.running_concurrency,
            key_arguments,
            conf.on_diff_non_key_args_raise,
            conf.reroute_on_concurrency_control,
            conf.max_running_per_key,
            conf.rate_limit,
        )

    def registration_key(self, arguments: Mapping[str, str]) -> str | None:
        """The registration key of a call with ``arguments`` (serialized), if controlled."""
        return scope_key(self.registration, self.task_key, self.key_arguments, arguments)

    def running_key(self, arguments: Mapping[str, str]) -> str | None:
        """The running-slot key of an invocation with ``arguments``, if controlled."""
        return scope_key(self.running, self.task_key, self.key_arguments, arguments)

    @property
    def rate_key(self) -> str:
        """The key of the task's rate limit (one for the task, across every runner)."""
        return self.task_key

    @property
    def checks_at_start(self) -> bool:
        """Whether a runner must ask :func:`admit` before starting an invocation."""
        return self.running is not C.DISABLED or self.rate is not None

    def step_refusal(self, stored: Collection[str], receives: bool) -> str | None:
        """Why a call of this task cannot be a step of a composition (``None``: it can),
        given the names of its ``stored`` arguments and whether it ``receives`` values
        from the step before (which are not among them: its running key would leave
        them out). Registration control may fold a call into another one; a running key
        must be computed from arguments the step has when it is registered."""
        if self.registration is not C.DISABLED:
            return (
                "it has registration control (registration_concurrency), which may fold "
                "its call into another invocation"
            )
        if receives and self.running is C.ARGUMENTS:
            return (
                "running_concurrency=ARGUMENTS counts it by its arguments, but it receives "
                "a value from the step before, which its key would leave out. Make it "
                "immutable (.immutable()) and pass the value, or use the TASK or KEYS scope"
            )
        missing = [name for name in self.key_arguments if name not in stored]
        if self.running is C.KEYS and missing:
            return (
                f"running_concurrency=KEYS needs its key argument(s) {', '.join(missing)} "
                "when it is registered, but they are received from the step before (or "
                "not given). Pass them in task.sig(...), or use the TASK scope"
            )
        return None


class Verdict(enum.Enum):
    """What a runner does with an invocation it claimed (see :func:`admit`)."""

    RUN = "run"  #: start it now (it holds its slot, its rate token is taken)
    WAIT = "wait"  #: put it back to wait, without a runner slot; it comes back later
    FAIL = "fail"  #: the slot is taken and the task asks not to wait: fail it


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on one invocation, and for WAIT how long."""

    verdict: Verdict
    #: WAIT: seconds until it may start (its rate reservation); ``None``: until a running
    #: slot of its key is released (it is then woken; see :func:`release`)
    delay: float | None = None
    reason: str = ""
    #: an invocation to wake now: this one gave back a slot it had just taken
    wake: str | None = None


RUN = Admission(Verdict.RUN)


def admit(
    backend: StateBackend,
    policy: ConcurrencyPolicy,
    invocation_id: str,
    arguments: Mapping[str, str],
    now: float,
) -> Admission:
    """Decide whether a claimed invocation may start now, taking what it needs.

    The running slot first (a refusal costs no rate token), then the rate token: a token
    not free now is *reserved* for this invocation at the returned delay, so the
    invocations held back by the rate start one interval apart instead of all waking at
    once; the slot is then given back until that time. Asking again for the same
    invocation (when it comes back) finds its slot or its reservation.
    """
    slot = policy.running_key(arguments)
    if slot is not None and not backend.acquire_slot(
        slot, invocation_id, policy.max_running, HOLDS_SLOT, enqueue=policy.reroute
    ):
        reason = (
            f"running_concurrency={policy.running.name}: {policy.max_running} invocation(s) "
            f"of key {slot!r} already running"
        )
        if not policy.reroute:
            return Admission(Verdict.FAIL, reason=reason)
        return Admission(Verdict.WAIT, None, reason)
    if policy.rate is not None:
        delay = backend.take_rate(policy.rate_key, invocation_id, policy.rate.interval, now)
        if delay > 0:
            wake = None if slot is None else backend.release_slot(slot, invocation_id)
            reason = f"rate_limit={policy.rate}: start reserved in {delay:.3f} s"
            return Admission(Verdict.WAIT, delay, reason, wake)
    return RUN


def release(
    backend: StateBackend,
    policy: ConcurrencyPolicy,
    invocation_id: str,
    arguments: Mapping[str, str],
) -> str | None:
    """Give back the running slot of an invocation that ran (whatever its outcome); the
    id of a held-back invocation of the same key to wake now, if one waits."""
    slot = policy.running_key(arguments)
    return None if slot is None else backend.release_slot(slot, invocation_id)
