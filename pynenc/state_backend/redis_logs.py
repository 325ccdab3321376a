"""The log primitives of the Redis state backend (``append_log``, ``read_log``).

A stream is a sorted set at ``pynenc:{app}:log:<stream>`` scored by sequence number, each
member ``<seq>:<value>`` (so equal values stay distinct), beside a counter
``…:log:<stream>:last``. An append is one script: the counter goes up, the entry goes in
and the entries beyond ``max_len`` go out, atomically. A read is one ``ZRANGEBYSCORE``.
``purge`` drops the streams with everything else under the app's prefix, and leaves the
counters (:func:`is_counter`): numbers are never reused, so a reader's cursor stays good.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pynenc.state_backend.base import check_log, check_namespace

if TYPE_CHECKING:
    from pynenc.state_backend.redis import RedisStateBackend

# KEYS: the stream, its counter. ARGV: the value, max_len. Returns the sequence number.
# Numbers travel as '%d' text: Lua would write 1e14 and above as '1e+14' (lossy).
APPEND = """
local seq = redis.call('INCR', KEYS[2])
local text = string.format('%d', seq)
redis.call('ZADD', KEYS[1], text, text .. ':' .. ARGV[1])
local keep = tonumber(ARGV[2])
if seq > keep then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', seq - keep))
end
return seq
"""


def is_counter(prefix: str, key: str) -> bool:
    """Whether ``key`` is the counter of a stream (``<prefix>log:<stream>:last``; a stream
    name holds no ``:``)."""
    head = prefix + "log:"
    return key.startswith(head) and key.endswith(":last") and key.count(":", len(head)) == 1


def _key(backend: RedisStateBackend, stream: str) -> str:
    check_namespace(stream)
    return f"{backend.prefix}log:{stream}"


def append_log(backend: RedisStateBackend, stream: str, value: str, max_len: int) -> int:
    check_log(stream, max_len)
    key = _key(backend, stream)
    script = backend._append_log_script
    return int(
        backend._call(lambda client: script([key, key + ":last"], [value, max_len], client=client))
    )


def read_log(
    backend: RedisStateBackend, stream: str, after: int, limit: int
) -> list[tuple[int, str]]:
    key = _key(backend, stream)
    if limit <= 0:
        return []
    members = cast(
        list[str],
        backend._call(
            lambda client: client.zrangebyscore(key, f"({int(after)}", "+inf", start=0, num=limit)
        ),
    )
    entries: list[tuple[int, str]] = []
    for member in members:
        seq, _, value = member.partition(":")
        entries.append((int(seq), value))
    return entries
