"""Signing and poison bodies on every transport (the shipped ``BrokerSigningContract``)."""

from __future__ import annotations

import pytest

from pynenc.testing.broker_contract import BrokerSigningContract
from tests.contract.urls import broker_url_for


@pytest.fixture(params=["memory", "sqlite", "redis", "amqp"])
def broker_url(request: pytest.FixtureRequest) -> str:
    return broker_url_for(request.param, request)


class TestBrokerSigning(BrokerSigningContract):
    """Runs the signing contract on every transport."""
