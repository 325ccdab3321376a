"""Message signing: an HMAC-SHA256 of every message body, with keys shared by an app's processes.

With ``broker.signing_keys`` set, the broker signs each body it publishes with the first key
and puts ``<key id>:<hex digest>`` in the :data:`SIGNATURE_HEADER` message header (dead-letter
copies keep it). A consumer checks that header against the exact body bytes before decoding
anything, with every key of the list: a rotation adds the new key first and drops the old one
once no message signed with it is left. The key id (a short hash of the key) picks the key
to check with, so a check costs one HMAC whatever the number of keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from pynenc.exceptions import BrokerError

#: The message header carrying the signature.
SIGNATURE_HEADER = "x-pynenc-signature"


class SignatureError(BrokerError):
    """A message is unsigned, or its signature does not match its body with any accepted key."""


def key_id(key: bytes) -> str:
    """A short public name of ``key`` (it reveals nothing a signed message does not)."""
    return hashlib.sha256(b"pynenc-signing-key-id:" + key).hexdigest()[:12]


class Signer:
    """Signs with the first of ``keys`` and accepts signatures made with any of them.

    :param keys: the shared secrets, newest first (at least one).
    """

    __slots__ = ("_keys", "_signing_id", "_signing_key")

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a Signer needs at least one key")
        encoded = [key.encode("utf-8") for key in keys]
        self._keys: dict[str, bytes] = {key_id(key): key for key in encoded}
        self._signing_key = encoded[0]
        self._signing_id = key_id(encoded[0])

    def sign(self, body: bytes) -> str:
        """The header value for ``body``: ``<key id>:<hex HMAC-SHA256>``."""
        digest = hmac.new(self._signing_key, body, hashlib.sha256).hexdigest()
        return f"{self._signing_id}:{digest}"

    def verify(self, headers: Mapping[str, Any] | None, body: bytes) -> None:
        """Accept ``body`` or raise :class:`SignatureError` saying why not."""
        value = (headers or {}).get(SIGNATURE_HEADER)
        if value is None:
            raise SignatureError(
                f"Message is not signed (no {SIGNATURE_HEADER} header) and "
                "broker.signing_keys is set: only signed messages are accepted"
            )
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        kid, sep, digest = str(value).partition(":")
        key = self._keys.get(kid)
        if not sep or key is None:
            raise SignatureError(
                f"Message is signed with a key that is not in broker.signing_keys (key id "
                f"{kid[:12]!r}; accepted: {', '.join(self._keys)})"
            )
        expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode("ascii")
        if not hmac.compare_digest(expected, digest.encode("utf-8", "replace")):
            raise SignatureError(
                f"Message signature does not match its body (key id {kid}): the body was "
                "changed after signing, or the signature forged"
            )
