"""The value primitives of the Redis state backend (``put_value`` and friends).

A value is one Redis string at ``pynenc:{app}:kv:<namespace>:<key>`` (namespaces hold no
``:``, so no two (namespace, key) pairs share a key), stored as its UTF-8 bytes. Each
operation is one command (``SET [NX]``, ``MGET``, pipelined ``EXISTS``) or, for the
compare-and-delete, one script: atomic, one round trip. A refused ``SET NX`` is followed by
a script comparing the value there with the one given (see ``put_value``). ``purge`` finds
them under the app's prefix with everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from pynenc.state_backend.base import check_namespace

if TYPE_CHECKING:
    import redis

    from pynenc.state_backend.redis import RedisStateBackend

#: Keys per ``MGET`` / per pipeline.
KEY_CHUNK = 1000

# KEYS: the value. ARGV: a value. 1 when the key holds that very value (the lengths are
# compared before the bytes). Run only after a ``SET NX`` was refused.
HOLDS = """
if redis.call('STRLEN', KEYS[1]) ~= string.len(ARGV[1]) then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""

# KEYS: the value. ARGV: the value expected.
DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _key(backend: RedisStateBackend, namespace: str, key: str) -> str:
    check_namespace(namespace)
    return f"{backend.prefix}kv:{namespace}:{key}"


def put_value(
    backend: RedisStateBackend, namespace: str, key: str, value: str, only_if_absent: bool
) -> bool:
    name = _key(backend, namespace, key)
    if backend._call(lambda client: client.set(name, value, nx=only_if_absent)):
        return True
    # Refused: is it our very value (a retried write whose reply was lost, the same content)?
    # A plain SET NX first, not a script: a large value travels once in the common case,
    # and a script's first call on a server (NOSCRIPT, then again) would send it twice.
    script = backend._holds_script
    return bool(backend._call(lambda client: script([name], [value], client=client)))


def get_values(backend: RedisStateBackend, namespace: str, keys: Sequence[str]) -> list[str | None]:
    names = [_key(backend, namespace, key) for key in keys]

    def run(client: redis.Redis) -> list[str | None]:
        values: list[str | None] = []
        for start in range(0, len(names), KEY_CHUNK):
            values.extend(cast(list[str | None], client.mget(names[start : start + KEY_CHUNK])))
        return values

    return backend._call(run) if names else []


def has_values(backend: RedisStateBackend, namespace: str, keys: Sequence[str]) -> list[bool]:
    names = [_key(backend, namespace, key) for key in keys]

    def run(client: redis.Redis) -> list[bool]:
        found: list[bool] = []
        for start in range(0, len(names), KEY_CHUNK):
            with client.pipeline(transaction=False) as pipe:
                for name in names[start : start + KEY_CHUNK]:
                    pipe.exists(name)
                found.extend(bool(count) for count in pipe.execute())
        return found

    return backend._call(run) if names else []


def delete_value(
    backend: RedisStateBackend, namespace: str, key: str, expected: str | None
) -> bool:
    name = _key(backend, namespace, key)
    if expected is None:
        return bool(backend._call(lambda client: client.delete(name)))
    script = backend._delete_if_equal_script
    return bool(backend._call(lambda client: script([name], [expected], client=client)))
