"""The broker: envelopes carried by kombu over any kombu URL."""

from pynenc.broker.envelope import Envelope, MalformedEnvelopeError
from pynenc.broker.kombu_broker import BrokerConsumer, Delivery, KombuBroker
from pynenc.broker.signing import SignatureError

__all__ = [
    "BrokerConsumer",
    "Delivery",
    "Envelope",
    "KombuBroker",
    "MalformedEnvelopeError",
    "SignatureError",
]
