"""A timeout that is not a number of seconds is refused at once, not waited on forever."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from pynenc import Pynenc
from tests.apps import core

BAD = [math.nan, -1.0, -0.001]
#: Before the check, nan waited for ever: bound every test.
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def no_runner(core_app: Pynenc) -> Iterator[Pynenc]:
    """The core app in distributed mode with nothing consuming: a wait would block."""
    yield core_app


@pytest.mark.parametrize("timeout", BAD)
def test_get_result_rejects_nan_and_negative(no_runner: Pynenc, timeout: float) -> None:
    invocation = core.add(1, 2)
    with pytest.raises(ValueError, match=r"timeout") as raised:
        invocation.get_result(timeout=timeout)
    assert repr(timeout) in str(raised.value)


@pytest.mark.parametrize("timeout", BAD)
def test_orchestrator_waits_reject_nan_and_negative(no_runner: Pynenc, timeout: float) -> None:
    invocation = core.add(1, 2)
    with pytest.raises(ValueError, match="timeout"):
        no_runner.orchestrator.wait_final(invocation.invocation_id, timeout)
    with pytest.raises(ValueError, match="timeout"):
        no_runner.orchestrator.wait_final_many([invocation.invocation_id], timeout)


@pytest.mark.parametrize("timeout", BAD)
def test_sync_invocation_rejects_them_too(sync_app: Pynenc, timeout: float) -> None:
    invocation = core.add(1, 2)
    with pytest.raises(ValueError, match="timeout"):
        invocation.get_result(timeout=timeout)


def test_inf_and_zero_are_fine(running_app: Pynenc) -> None:
    invocation = core.add(1, 2)
    assert invocation.get_result(timeout=math.inf) == 3
    assert invocation.get_result(timeout=0) == 3
