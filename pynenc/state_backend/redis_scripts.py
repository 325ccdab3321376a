"""How the Redis state backend stores invocations: its Lua scripts (registration, the
status compare-and-set, the lease) and the encoding of records, updates and history
entries into the strings they read.

The scripts run atomically on the server, so a claim, its history entry, the status index,
the scheduled index and the wake-up happen in one step (see :mod:`pynenc.state_backend.redis`).
"""

from __future__ import annotations

import json

from pynenc.records import (
    FINAL,
    InvocationRecord,
    InvocationStatus,
    StatusEntry,
    StatusUpdate,
    StatusUpdateWithArguments,
    decode_meta,
    encode_links,
    encode_meta,
    fingerprint,
)
from pynenc.state_backend.redis_links import LINKS

#: Largest record (bytes of its values) sent whole on the message announcing its end.
RECORD_ON_MESSAGE = 8192

# Stores one record ``r`` (a 17-string array, see register_fields; '' for an absent
# optional value) under prefix ``p``, registered at ``when`` (the score in the ``registered``
# index), unless its id is stored already (a caller-chosen id seen before: left as it is).
# Returns whether it stored it. Shared by every script that registers (``REGISTER``,
# redis_limits).
REGISTER_RECORD = """
local register_optional = {[8] = 'owner', [9] = 'parent', [10] = 'result', [11] = 'error',
                           [13] = 'prio', [14] = 'due', [15] = 'expires', [16] = 'meta',
                           [17] = 'links'}
local function register_record(p, r, when)
  local id, task, status = r[1], r[2], r[3]
  local rec, hist = p .. 'inv:' .. id, p .. 'hist:' .. id
  if redis.call('EXISTS', rec) == 1 then return false end
  redis.call('DEL', hist)
  local sets = {'task', task, 'status', status, 'retries', r[4], 'queue', r[5], 'args', r[6],
                'fp', r[12]}
  for j, field in pairs(register_optional) do
    if r[j] ~= '' then sets[#sets + 1] = field; sets[#sets + 1] = r[j] end
  end
  redis.call('HSET', rec, unpack(sets))
  redis.call('RPUSH', hist, r[7])
  redis.call('SADD', p .. 'status:' .. status, id)
  redis.call('SADD', p .. 'task:' .. task, id)
  redis.call('ZADD', p .. 'registered', when, id)
  if status == 'scheduled' then redis.call('ZADD', p .. 'scheduled', r[14], id) end
  -- the call tree: a call made inside a task is listed under its parent (in order)
  if r[9] ~= '' then redis.call('RPUSH', p .. 'children:' .. r[9], id) end
  return true
end
"""

# ARGV: key prefix, then the records as one JSON array (one argument to encode and send,
# however many records), then the registration time, then the channel. Returns a '0'/'1'
# string: was each one inserted? The WAITING records inserted are linked once all are
# stored (redis_links); those that end at once (waiting for one that has failed) are
# PUBLISHed, as every final status.
REGISTER = (
    REGISTER_RECORD
    + LINKS
    + """
local p, when, inserted, waiting, finals = ARGV[1], ARGV[3], {}, {}, {}
for _, r in ipairs(cjson.decode(ARGV[2])) do
  local new = register_record(p, r, when)
  inserted[#inserted + 1] = new and '1' or '0'
  if new and r[3] == 'waiting' then waiting[#waiting + 1] = r end
end
if #waiting > 0 then
  local _, link_new = link_functions()
  for _, r in ipairs(waiting) do link_new(p, r[1], r[17], when, finals) end
end
if #finals > 0 then redis.call('PUBLISH', ARGV[4], table.concat(finals, ' ')) end
return table.concat(inserted)
"""
)

# The message announcing ``finals``: their ids, space-separated, then one line per id with
# its record as HGETALL returns it (a JSON array of field, value, ...), or an empty line
# for a record larger than ``RECORD_ON_MESSAGE`` bytes: a waiter woken by it has the final
# record without reading it again (pynenc.state_backend.redis_notices). cjson escapes
# newlines, so a record is always one line.
FINAL_MESSAGE = """
local function final_message(p, finals)
  local lines = {table.concat(finals, ' ')}
  for _, id in ipairs(finals) do
    local fields, size = redis.call('HGETALL', p .. 'inv:' .. id), 0
    for _, value in ipairs(fields) do size = size + #value end
    lines[#lines + 1] = (#fields > 0 and size <= RECORD_ON_MESSAGE) and cjson.encode(fields) or ''
  end
  return table.concat(lines, '\\n')
end
"""

# ARGV: key prefix, channel, then the updates as one JSON array (see status_fields; ''
# for an absent optional value). Returns a '0'/'1' string, one character per update; the
# ids that became final are PUBLISHed together, space-separated. A claim's checks of the
# task (u[11]) and the arguments' fingerprint (u[12]) read two short fields, never 'args'.
# The ``scheduled`` sorted set (score: due time) follows the status: entering SCHEDULED
# adds the id (u[13]: its due time), leaving it removes the id. With an expiry check (u[14]:
# its time), a record whose 'expires' is at or before it gets the expiry entry instead
# (u[15]: status, u[16]: history entry, u[17]: final) and the update reads as not applied.
# A retry with new arguments carries them (u[18], JSON as registered) and their fingerprint
# (u[19]), stored with the status; every other update sends neither. A continue-as-new also
# carries u[20]: the history is trimmed to its first entry and its newest u[20] (with the
# one it writes), so a workflow that continues again and again keeps a bounded list.
# An invocation that ends (either way) settles what waits for it, in the same call: one
# EXISTS when nothing does (redis_links).
SET_STATUS = (
    LINKS
    + f"local RECORD_ON_MESSAGE = {RECORD_ON_MESSAGE}\n"
    + FINAL_MESSAGE
    + """
local p, applied, finals = ARGV[1], {}, {}
local function ended(id, status, entry)
  finals[#finals + 1] = id
  if redis.call('EXISTS', p .. 'followers:' .. id) == 1 then
    local link_settle = link_functions()
    link_settle(p, id, status, entry, finals)
  end
end
local function trim(hist, newest)
  -- keep the first entry and the ``newest`` last ones
  local n = redis.call('LLEN', hist)
  if n > newest + 1 then
    local first = redis.call('LINDEX', hist, 0)
    redis.call('LTRIM', hist, n - newest, -1)
    redis.call('LPUSH', hist, first)
  end
end
local function move(id, rec, status, new)
  redis.call('SREM', p .. 'status:' .. status, id)
  redis.call('SADD', p .. 'status:' .. new, id)
  if status == 'scheduled' and new ~= 'scheduled' then
    redis.call('ZREM', p .. 'scheduled', id)
  end
end
for _, u in ipairs(cjson.decode(ARGV[3])) do
  local id, new, owner, expected_owner = u[1], u[2], u[3], u[4]
  local rec, hist = p .. 'inv:' .. id, p .. 'hist:' .. id
  local cur = redis.call('HMGET', rec, 'status', 'owner', 'task', 'fp')
  local check = u[14]  -- absent (nil) from updates that neither schedule nor check expiry
  local status, ok = cur[1], false
  if status then
    for _, expected in ipairs(u[10]) do ok = ok or expected == status end
    if expected_owner ~= '' and cur[2] ~= expected_owner then ok = false end
    if u[11] ~= '' and cur[3] ~= u[11] then ok = false end
    -- a record stored before fingerprints existed has none: its claim is not checked
    if u[12] ~= '' and cur[4] and cur[4] ~= u[12] then ok = false end
  end
  local expires = ok and check and check ~= '' and redis.call('HGET', rec, 'expires')
  if expires and tonumber(expires) <= tonumber(check) then
    redis.call('HSET', rec, 'status', u[15])
    redis.call('HDEL', rec, 'owner')
    redis.call('RPUSH', hist, u[16])
    move(id, rec, status, u[15])
    if u[17] == '1' then ended(id, u[15], u[16]) end
    applied[#applied + 1] = '0'
  elseif ok then
    -- one HSET for every field the update sets
    local sets = {'status', new}
    if owner ~= '' then sets[#sets + 1] = 'owner'; sets[#sets + 1] = owner
    elseif cur[2] then redis.call('HDEL', rec, 'owner') end
    if u[5] ~= '' then sets[#sets + 1] = 'result'; sets[#sets + 1] = u[5] end
    if u[6] ~= '' then sets[#sets + 1] = 'error'; sets[#sets + 1] = u[6] end
    if u[7] ~= '' then sets[#sets + 1] = 'retries'; sets[#sets + 1] = u[7] end
    if u[18] then
      sets[#sets + 1] = 'args'; sets[#sets + 1] = u[18]
      sets[#sets + 1] = 'fp'; sets[#sets + 1] = u[19]
      if u[20] then trim(hist, u[20] - 1) end  -- before the new entry is pushed
    end
    redis.call('HSET', rec, unpack(sets))
    redis.call('RPUSH', hist, u[8])
    move(id, rec, status, new)
    if new == 'scheduled' then
      redis.call('HSET', rec, 'due', u[13])
      redis.call('ZADD', p .. 'scheduled', u[13], id)
    end
    if u[9] == '1' then ended(id, new, u[8]) end
    applied[#applied + 1] = '1'
  elseif status == new and redis.call('LINDEX', hist, -1) == u[8] then
    -- a retried call whose first attempt was applied but whose reply was lost
    applied[#applied + 1] = '1'
  else
    applied[#applied + 1] = '0'
  end
end
if #finals > 0 then redis.call('PUBLISH', ARGV[2], final_message(p, finals)) end
return table.concat(applied)
"""
)

# KEYS: lease. ARGV: holder, now, expiry, key lifetime (ms). Expiry is judged by the caller's
# clock (``now``), like every backend; the key's own TTL only collects abandoned leases.
ACQUIRE_LEASE = """
local cur = redis.call('HMGET', KEYS[1], 'holder', 'expires')
if cur[1] and cur[1] ~= ARGV[1] and tonumber(cur[2]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


def register_fields(record: InvocationRecord, entry_time: float) -> list[str]:
    error = "" if record.error is None else json.dumps(record.error)
    due = record.due
    if due is None and record.status is InvocationStatus.SCHEDULED:
        due = entry_time
    return [
        record.invocation_id,
        record.task_id,
        record.status.value,
        str(record.num_retries),
        record.queue,
        json.dumps(record.arguments),
        _entry(StatusEntry(record.status, entry_time)),
        record.owner or "",
        record.parent_id or "",
        record.result or "",
        error,
        fingerprint(record.arguments),
        "" if record.priority is None else str(record.priority),
        _time(due),
        _time(record.expires),
        encode_meta(record) or "",
        encode_links(record) or "",
    ]


def _time(value: float | None) -> str:
    """A time as the scripts store it ('' for none): ``repr`` keeps every digit."""
    return "" if value is None else repr(value)


#: The fields :func:`decode_record` reads but ``links``, for a read that leaves them out.
RECORD_FIELDS = (
    "task", "args", "status", "owner", "retries", "parent", "result", "error", "queue",
    "prio", "due", "expires", "meta",
)  # fmt: skip


def decode_record(invocation_id: str, fields: dict[str, str]) -> InvocationRecord | None:
    if not fields:
        return None
    error, priority = fields.get("error"), fields.get("prio")
    due, expires = fields.get("due"), fields.get("expires")
    meta, links = fields.get("meta"), fields.get("links")
    return InvocationRecord(
        invocation_id,
        fields["task"],
        json.loads(fields["args"]),
        status=InvocationStatus(fields["status"]),
        owner=fields.get("owner"),
        num_retries=int(fields["retries"]),
        parent_id=fields.get("parent"),
        result=fields.get("result"),
        error=None if error is None else json.loads(error),
        queue=fields["queue"],
        priority=None if priority is None else int(priority),
        due=None if due is None else float(due),
        expires=None if expires is None else float(expires),
        **({} if meta is None and links is None else decode_meta(meta, links)),
    )


def decode_entries(raw: list[str]) -> list[StatusEntry]:
    """A history list as stored (one JSON array per entry), decoded."""
    return [StatusEntry(InvocationStatus(s), t, r, why) for s, t, r, why in map(json.loads, raw)]


def script_json(value: object) -> str:
    """The JSON a script decodes with cjson. Non-ASCII text stays as it is (sent as UTF-8),
    never as ``\\u`` escapes: cjson refuses the escape of a lone surrogate, which Python
    text may hold (``os.fsdecode`` of a file name) and JSON allows."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def status_fields(update: StatusUpdate) -> list[object]:
    return [
        update.invocation_id,
        update.entry.status.value,
        update.owner or "",
        update.expected_owner or "",
        update.result or "",
        "" if update.error is None else json.dumps(update.error),
        "" if update.num_retries is None else str(update.num_retries),
        _entry(update.entry),
        "1" if update.entry.status in FINAL else "0",
        [status.value for status in update.expected],
        update.expected_task or "",
        update.expected_fingerprint or "",
        *_schedule_fields(update),
    ]


def retry_fields(update: StatusUpdateWithArguments) -> list[object]:
    """:func:`status_fields` of an update that stores new arguments (u[18], u[19]), its
    due time and expiry check padded to their five places; the history it keeps (u[20])
    when it trims it."""
    fields = status_fields(update)
    fields.extend([""] * (17 - len(fields)))
    fields += [json.dumps(update.arguments), update.arguments_fingerprint]
    if update.keep_history is not None:
        fields.append(update.keep_history)
    return fields


def _schedule_fields(update: StatusUpdate) -> list[str]:
    """The due time (entering SCHEDULED) and the expiry check of an update (u[13..17]);
    none at all for the others (most updates: claims and outcomes of plain calls)."""
    entry, expiry = update.entry, update.on_expiry
    scheduled = entry.status is InvocationStatus.SCHEDULED
    if expiry is None and not scheduled:
        return []
    due = _time(entry.timestamp if update.due is None else update.due) if scheduled else ""
    if expiry is None:
        return [due]
    final = "1" if expiry.status in FINAL else "0"
    return [due, repr(entry.timestamp), expiry.status.value, _entry(expiry), final]


def _entry(entry: StatusEntry) -> str:
    return json.dumps([entry.status.value, entry.timestamp, entry.runner_id, entry.reason])
