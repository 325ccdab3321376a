"""Concurrency options, keys and the decisions of ``pynenc.orchestrator.concurrency``.

The decisions run against the memory backend (the primitives themselves are covered on
every backend by ``tests/contract/test_limits_contract.py``).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pynenc.conf import AppConfig, ConcurrencyControlType, TaskConfig
from pynenc.conf.rate import RateLimit, rate_limit
from pynenc.exceptions import ConfigError
from pynenc.orchestrator.concurrency import (
    PENDING,
    ConcurrencyPolicy,
    Verdict,
    admit,
    release,
    scope_key,
)
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.state_backend.memory import MemoryStateBackend

C = ConcurrencyControlType
S = InvocationStatus
TASK = "mod.send"
PARAMS = ("account", "payload", "retries")


def conf(tmp_path: Path, **options: Any) -> TaskConfig:
    app_conf = AppConfig(config_filepath=None, environ={}, cwd=tmp_path)
    return app_conf.task_config(TASK, options)


# -- rate_limit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "count", "period"),
    [
        ("10/s", 10, 1.0),
        ("100/m", 100, 60.0),
        (" 5 / h ", 5, 3600.0),
        ("0.5/s", 0.5, 1.0),
        ("7", 7, 1.0),
        (20, 20, 1.0),
        (2.5, 2.5, 1.0),
        ("3/M", 3, 60.0),
    ],
)
def test_rate_forms(raw: Any, count: float, period: float) -> None:
    parsed = rate_limit(raw)
    assert parsed == RateLimit(count, period)
    assert parsed.interval == pytest.approx(period / count)


def test_no_rate() -> None:
    assert rate_limit(None) is None
    assert rate_limit("None") is None


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("10/d", "unknown unit 'd'"),
        ("ten/s", "'<count>/<unit>'"),
        ("10/s/2", "'<count>/<unit>'"),
        ("0/s", "allows no start"),
        (0, "allows no start"),
        (-3, "allows no start"),
        (True, "boolean"),
        ([10], "list"),
    ],
)
def test_bad_rates_name_the_option_and_the_forms(tmp_path: Path, raw: Any, detail: str) -> None:
    with pytest.raises(ConfigError) as err:
        conf(tmp_path, rate_limit=raw)
    message = str(err.value)
    assert message.startswith("task.rate_limit must be a rate such as '10/s', '100/m', '5/h'")
    assert detail in message


def test_rate_from_the_environment_and_shown_as_written(tmp_path: Path) -> None:
    env = {"PYNENC__TASK__MOD_SEND__RATE_LIMIT": "100/m"}
    config = AppConfig(config_filepath=None, environ=env, cwd=tmp_path).task_config(TASK, {})
    assert config.rate_limit == RateLimit(100, 60.0)
    shown = {item.name: item.shown for item in config.describe()}
    assert shown["rate_limit"] == "100/m"


def test_defaults(tmp_path: Path) -> None:
    config = conf(tmp_path)
    assert config.running_concurrency is C.DISABLED
    assert config.key_arguments == ()
    assert config.on_diff_non_key_args_raise is False
    assert config.reroute_on_concurrency_control is True
    assert config.max_running_per_key == 1
    assert config.rate_limit is None
    assert ConcurrencyPolicy.of(TASK, config, PARAMS) is None  # the fast path


def test_key_arguments_from_text(tmp_path: Path) -> None:
    assert conf(tmp_path, key_arguments="account, payload").key_arguments == (
        "account",
        "payload",
    )


# -- the policy: validation ------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["registration_concurrency", "running_concurrency"])
def test_keys_needs_key_arguments(tmp_path: Path, scope: str) -> None:
    with pytest.raises(ConfigError, match=f"{scope}=KEYS needs key_arguments"):
        ConcurrencyPolicy.of(TASK, conf(tmp_path, **{scope: "keys"}), PARAMS)


def test_key_arguments_must_be_parameters(tmp_path: Path) -> None:
    config = conf(tmp_path, registration_concurrency="keys", key_arguments=["acount", "payload"])
    with pytest.raises(ConfigError) as err:
        ConcurrencyPolicy.of(TASK, config, PARAMS)
    assert "key_arguments names 'acount'" in str(err.value)
    assert "account, payload, retries" in str(err.value)


def test_max_running_needs_a_running_scope(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="running_concurrency is DISABLED"):
        ConcurrencyPolicy.of(TASK, conf(tmp_path, max_running_per_key=3), PARAMS)


def test_max_running_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_running_per_key must be an integer >= 1"):
        conf(tmp_path, max_running_per_key=0)


def test_policy_of_a_controlled_task(tmp_path: Path) -> None:
    config = conf(
        tmp_path,
        running_concurrency="keys",
        key_arguments=("account", "account"),
        max_running_per_key=2,
        rate_limit="10/s",
        reroute_on_concurrency_control=False,
    )
    policy = ConcurrencyPolicy.of(TASK, config, PARAMS)
    assert policy is not None
    assert policy.key_arguments == ("account",)
    assert (policy.max_running, policy.reroute, policy.checks_at_start) == (2, False, True)
    only_registration = ConcurrencyPolicy.of(
        TASK, conf(tmp_path, registration_concurrency="task"), PARAMS
    )
    assert only_registration is not None and not only_registration.checks_at_start


# -- keys ------------------------------------------------------------------------------------


def test_scope_keys() -> None:
    one = {"account": '"a"', "payload": "1"}
    other_payload = {"payload": "2", "account": '"a"'}
    other_account = {"account": '"b"', "payload": "1"}
    keys = ("account",)
    assert scope_key(C.DISABLED, TASK, keys, one) is None
    assert scope_key(C.TASK, TASK, keys, one) == scope_key(C.TASK, TASK, keys, other_account)
    arguments = scope_key(C.ARGUMENTS, TASK, keys, one)
    assert arguments == scope_key(C.ARGUMENTS, TASK, keys, dict(reversed(one.items())))
    assert arguments != scope_key(C.ARGUMENTS, TASK, keys, other_payload)
    by_key = scope_key(C.KEYS, TASK, keys, one)
    assert by_key == scope_key(C.KEYS, TASK, keys, other_payload)
    assert by_key != scope_key(C.KEYS, TASK, keys, other_account)
    assert by_key != scope_key(C.KEYS, "mod.other", keys, one)
    assert len({by_key, arguments, scope_key(C.TASK, TASK, keys, one)}) == 3


# -- decisions -------------------------------------------------------------------------------


@pytest.fixture
def backend() -> MemoryStateBackend:
    return MemoryStateBackend(f"unit-concurrency-{uuid.uuid4().hex[:8]}")


def _running(backend: MemoryStateBackend, account: str = '"a"') -> tuple[str, dict[str, str]]:
    arguments = {"account": account, "payload": uuid.uuid4().hex}
    record = InvocationRecord(uuid.uuid4().hex, TASK, arguments)
    backend.register([record], time.time())
    entry = StatusEntry(S.RUNNING, time.time(), "runner")
    claim = StatusUpdate(record.invocation_id, frozenset({S.REGISTERED}), entry, owner="runner")
    assert backend.set_status(claim)
    return record.invocation_id, arguments


def _policy(**fields: Any) -> ConcurrencyPolicy:
    return ConcurrencyPolicy(TASK, key_arguments=("account",), **fields)


def test_running_slots_per_key(backend: MemoryStateBackend) -> None:
    policy = _policy(running=C.KEYS, max_running=2)
    (a, args_a), (b, args_b), (c, args_c) = (_running(backend) for _ in range(3))
    other, args_other = _running(backend, '"z"')
    assert admit(backend, policy, a, args_a, 0.0).verdict is Verdict.RUN
    assert admit(backend, policy, b, args_b, 0.0).verdict is Verdict.RUN
    held = admit(backend, policy, c, args_c, 0.0)
    assert (held.verdict, held.delay) == (Verdict.WAIT, None)
    assert "2 invocation(s)" in held.reason
    assert admit(backend, policy, other, args_other, 0.0).verdict is Verdict.RUN
    assert release(backend, policy, a, args_a) == c  # woken: its turn
    assert admit(backend, policy, c, args_c, 0.0).verdict is Verdict.RUN


def test_no_reroute_fails_without_queueing(backend: MemoryStateBackend) -> None:
    policy = _policy(running=C.TASK, reroute=False)
    (a, args_a), (b, args_b) = _running(backend), _running(backend, '"z"')
    assert admit(backend, policy, a, args_a, 0.0).verdict is Verdict.RUN
    assert admit(backend, policy, b, args_b, 0.0).verdict is Verdict.FAIL
    assert release(backend, policy, a, args_a) is None  # b was not left waiting


def test_rate_reserves_and_gives_the_slot_back(backend: MemoryStateBackend) -> None:
    policy = _policy(running=C.TASK, max_running=5, rate=RateLimit(2, 1.0))
    (a, args_a), (b, args_b), (c, args_c) = (_running(backend) for _ in range(3))
    assert admit(backend, policy, a, args_a, 100.0).verdict is Verdict.RUN
    later = admit(backend, policy, b, args_b, 100.0)
    assert (later.verdict, later.delay) == (Verdict.WAIT, pytest.approx(0.5))
    assert "rate_limit=2/s" in later.reason
    assert backend.slot_holders(TASK) == [a]  # b holds no slot while it waits
    assert admit(backend, policy, c, args_c, 100.0).delay == pytest.approx(1.0)
    assert admit(backend, policy, b, args_b, 100.5).verdict is Verdict.RUN  # its reservation
    assert sorted(backend.slot_holders(TASK)) == sorted([a, b])


def test_rate_wait_wakes_who_waited_for_the_slot(backend: MemoryStateBackend) -> None:
    policy = _policy(running=C.TASK, rate=RateLimit(1, 1.0))
    (a, args_a), (b, args_b), (c, args_c) = (_running(backend) for _ in range(3))
    assert admit(backend, policy, a, args_a, 100.0).verdict is Verdict.RUN
    assert admit(backend, policy, b, args_b, 100.0).delay is None  # slot taken: waits
    assert release(backend, policy, a, args_a) == b
    # c takes the free slot but the rate makes it wait: it gives the slot back, waking none
    held = admit(backend, policy, c, args_c, 100.0)
    assert (held.verdict, held.wake) == (Verdict.WAIT, None)
    assert held.delay == pytest.approx(1.0)


def test_pending_holds_every_non_final_status() -> None:
    assert frozenset({S.REGISTERED, S.RUNNING, S.RETRY, S.REROUTED}) <= PENDING
    assert not PENDING & {S.SUCCESS, S.FAILED}
