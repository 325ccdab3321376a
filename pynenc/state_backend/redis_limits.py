"""Concurrency control and rate limits for the Redis state backend: one Lua script each.

Keys, under the app's prefix ``pynenc:{app_id}:``:

- ``rkey:<key>``: the invocation last registered under a registration key (a string);
- ``slot:<key>``: the holders of a slot key (a set); ``slotq:<key>``: its waiters (a sorted
  set scored by ``slotseq``, a counter: arrival order);
- ``rate:<key>``: a rate key's two times (a hash: ``start``, ``slot``; see ``_limits``),
  expiring once past; ``rateq:<key>``: the starts reserved for invocations (a sorted set
  scored by start time).

Times cross the Lua boundary as ``%.17g`` text: a Lua number given to ``redis.call`` or
returned by a script would lose digits (14 significant ones, or truncation to an integer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

import redis

from pynenc.records import InvocationStatus
from pynenc.state_backend.base import RATE_RESERVATION_GRACE

# ARGV: prefix, records (JSON, as _REGISTER's), registration time, keys (JSON: '' for none),
# statuses holding a key (JSON). Returns, per record, '' (registered) or the holder's id
# (the record's own id when it is stored already).
_REGISTER_EXCLUSIVE = """
local p, when, out, held = ARGV[1], ARGV[3], {}, {}
for _, s in ipairs(cjson.decode(ARGV[5])) do held[s] = true end
local keys = cjson.decode(ARGV[4])
for i, r in ipairs(cjson.decode(ARGV[2])) do
  local key, holder = keys[i], ''
  if redis.call('EXISTS', p .. 'inv:' .. r[1]) == 1 then
    holder = r[1]  -- a caller-chosen id seen before: left as it is, its key untouched
  elseif key ~= '' then
    local last = redis.call('GET', p .. 'rkey:' .. key)
    if last then
      local status = redis.call('HGET', p .. 'inv:' .. last, 'status')
      if status and held[status] then holder = last end
    end
  end
  if holder == '' then
    register_record(p, r, when)
    if key ~= '' then redis.call('SET', p .. 'rkey:' .. key, r[1]) end
  end
  out[i] = holder
end
return out
"""

# ARGV: prefix, key, holder, limit, statuses holding a slot (JSON), enqueue ('1'/'0').
_ACQUIRE_SLOT = """
local p, holder = ARGV[1], ARGV[3]
local slot, queue = p .. 'slot:' .. ARGV[2], p .. 'slotq:' .. ARGV[2]
if redis.call('SISMEMBER', slot, holder) == 1 then return 1 end
local limit = tonumber(ARGV[4])
if redis.call('SCARD', slot) >= limit then
  local held = {}
  for _, s in ipairs(cjson.decode(ARGV[5])) do held[s] = true end
  for _, h in ipairs(redis.call('SMEMBERS', slot)) do
    local status = redis.call('HGET', p .. 'inv:' .. h, 'status')
    if not (status and held[status]) then redis.call('SREM', slot, h) end
  end
  if redis.call('SCARD', slot) >= limit then
    if ARGV[6] == '1' and not redis.call('ZSCORE', queue, holder) then
      redis.call('ZADD', queue, redis.call('INCR', p .. 'slotseq'), holder)
    end
    return 0
  end
end
redis.call('SADD', slot, holder)
redis.call('ZREM', queue, holder)
return 1
"""

# ARGV: prefix, key, holder. Returns the waiter to wake, or nil.
_RELEASE_SLOT = """
local p, holder = ARGV[1], ARGV[3]
local slot, queue = p .. 'slot:' .. ARGV[2], p .. 'slotq:' .. ARGV[2]
redis.call('ZREM', queue, holder)
if redis.call('SREM', slot, holder) == 0 then return false end
local first = redis.call('ZRANGE', queue, 0, 0)[1]
if not first then return false end
redis.call('ZREM', queue, first)
return first
"""

# ARGV: prefix, key, holder, interval, now, grace. Returns the wait as text. The steps of
# pynenc.state_backend._limits.rate_take: keep the two in step.
_TAKE_RATE = """
local p, holder = ARGV[1], ARGV[3]
local times, reserved = p .. 'rate:' .. ARGV[2], p .. 'rateq:' .. ARGV[2]
local interval, now, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function text(x) return string.format('%.17g', x) end
redis.call('ZREMRANGEBYSCORE', reserved, '-inf', '(' .. text(now - grace))
local stored = redis.call('HMGET', times, 'start', 'slot')
local earliest = tonumber(stored[1]) or now
local slot = tonumber(stored[2]) or now
local function keep(next_start, next_slot)
  redis.call('HSET', times, 'start', text(next_start), 'slot', text(next_slot))
  -- both times mean nothing once past: let the key expire then (plus a minute)
  local last = math.max(next_start, next_slot)
  redis.call('PEXPIRE', times, math.ceil((last - now) * 1000) + 60000)
end
local mine = redis.call('ZSCORE', reserved, holder)
if mine then
  mine = tonumber(mine)
  if mine > now then return text(mine - now) end
  if now < earliest then return text(earliest - now) end
  redis.call('ZREM', reserved, holder)
  keep(now + interval, slot)
  return '0'
end
slot = math.max(now, earliest, slot)
if slot <= now then
  keep(now + interval, now + interval)
  return '0'
end
keep(earliest, slot + interval)
redis.call('ZADD', reserved, text(slot), holder)
redis.call('PEXPIRE', reserved, math.ceil((slot - now + grace) * 1000))
return text(slot - now)
"""


def _statuses(statuses: frozenset[InvocationStatus]) -> str:
    return json.dumps(sorted(status.value for status in statuses))


def register_exclusive_args(
    prefix: str, records: list[list[str]], keys: Sequence[str | None], entry_time: float
) -> list[str]:
    """The script arguments of ``register_exclusive`` but the statuses (see Scripts)."""
    return [
        prefix,
        json.dumps(records, ensure_ascii=False, separators=(",", ":")),
        repr(entry_time),
        json.dumps([key or "" for key in keys], ensure_ascii=False),
    ]


class Scripts:
    """The scripts of this module, registered on one client; ``register_record`` is the
    Lua function that stores a record (``redis.REGISTER_RECORD``), shared with ``register``."""

    def __init__(self, client: redis.Redis, register_record: str) -> None:
        self._register = client.register_script(register_record + _REGISTER_EXCLUSIVE)
        self._acquire = client.register_script(_ACQUIRE_SLOT)
        self._release = client.register_script(_RELEASE_SLOT)
        self._take_rate = client.register_script(_TAKE_RATE)

    def register(
        self, args: list[str], held_while: frozenset[InvocationStatus], client: redis.Redis
    ) -> list[str]:
        reply = self._register(args=[*args, _statuses(held_while)], client=client)
        return cast(list[str], reply)

    def acquire(
        self,
        prefix: str,
        key: str,
        holder: str,
        limit: int,
        held_while: frozenset[InvocationStatus],
        enqueue: bool,
        client: redis.Redis,
    ) -> bool:
        args: list[str | int] = [prefix, key, holder, limit, _statuses(held_while), int(enqueue)]
        return bool(self._acquire(args=args, client=client))

    def release(self, prefix: str, key: str, holder: str, client: redis.Redis) -> str | None:
        return cast(str | None, self._release(args=[prefix, key, holder], client=client))

    def take_rate(
        self,
        prefix: str,
        key: str,
        holder: str,
        interval: float,
        now: float,
        client: redis.Redis,
    ) -> float:
        grace = repr(RATE_RESERVATION_GRACE)
        args = [prefix, key, holder, repr(interval), repr(now), grace]
        return max(0.0, float(cast(str, self._take_rate(args=args, client=client))))
