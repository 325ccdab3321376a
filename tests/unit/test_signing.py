"""Message signing: keys, rotation, refusals, and keys never shown."""

from __future__ import annotations

import pytest

from pynenc import Pynenc
from pynenc.broker import KombuBroker
from pynenc.broker.envelope import Envelope
from pynenc.broker.signing import SIGNATURE_HEADER, SignatureError, Signer
from pynenc.conf import AppConfig
from pynenc.exceptions import ConfigError

OLD = "old-key-0123456789abcdef"
NEW = "new-key-0123456789abcdef"
BODY = b'{"v":1}'


def test_rotation_first_key_signs_every_key_verifies() -> None:
    rotated = Signer([NEW, OLD])
    rotated.verify({SIGNATURE_HEADER: Signer([OLD]).sign(BODY)}, BODY)
    rotated.verify({SIGNATURE_HEADER: rotated.sign(BODY)}, BODY)
    assert rotated.sign(BODY) == Signer([NEW]).sign(BODY)
    with pytest.raises(SignatureError, match=r"not in broker\.signing_keys"):
        Signer([OLD]).verify({SIGNATURE_HEADER: rotated.sign(BODY)}, BODY)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (None, "not signed"),
        ({}, "not signed"),
        ({SIGNATURE_HEADER: "garbage"}, r"not in broker\.signing_keys"),
        ({SIGNATURE_HEADER: "é:\x00"}, r"not in broker\.signing_keys"),
    ],
)
def test_unsigned_or_malformed_signatures_are_refused(
    headers: dict[str, str] | None, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        Signer([NEW]).verify(headers, BODY)


def test_changed_body_or_digest_is_refused() -> None:
    signer = Signer([NEW])
    signature = signer.sign(BODY)
    with pytest.raises(SignatureError, match="does not match"):
        signer.verify({SIGNATURE_HEADER: signature}, BODY + b" ")
    kid, _, digest = signature.partition(":")
    with pytest.raises(SignatureError, match="does not match"):
        signer.verify({SIGNATURE_HEADER: f"{kid}:{'0' * len(digest)}é"}, BODY)


def test_broker_signs_on_publish_and_checks_before_decoding() -> None:
    envelope = Envelope("inv-1", "m.t", {"x": "1"}, "json")
    signing = KombuBroker("memory://", "signing-unit", signing_keys=[NEW])
    plain = KombuBroker("memory://", "signing-unit")
    try:
        plain.publish([envelope])
        signing.publish([envelope])
        consumer = signing.consumer(["default"], prefetch=10)
        deliveries = consumer.get(2, timeout=5)
        assert len(deliveries) == 2
        unsigned, signed = deliveries
        assert isinstance(unsigned.error, SignatureError) and not unsigned.envelopes
        assert signed.error is None and signed.envelopes == [envelope]
        for delivery in deliveries:
            delivery.ack()
        consumer.close()
    finally:
        signing.close()
        plain.close()


def test_signing_keys_are_read_from_the_environment_and_never_shown() -> None:
    conf = AppConfig(environ={"PYNENC__BROKER__SIGNING_KEYS": f"{NEW},{OLD}"})
    assert conf.broker.signing_keys == (NEW, OLD)
    [shown] = [item.shown for item in conf.describe() if item.name == "broker.signing_keys"]
    assert NEW not in str(shown) and OLD not in str(shown)
    assert NEW not in repr(conf.broker)
    assert Pynenc(config_values={"broker": {"signing_keys": [NEW]}}).broker.signer is not None
    assert Pynenc().broker.signer is None  # off by default


def test_short_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match=r"broker\.signing_keys") as info:
        AppConfig(environ={"PYNENC__BROKER__SIGNING_KEYS": f"{NEW},short-secret"})
    assert "short-secret" not in str(info.value) and NEW not in str(info.value)
    assert "token_urlsafe" in str(info.value)
