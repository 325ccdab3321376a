"""Composition (chains, chords, callbacks) in the Redis state backend: the rules of
:class:`pynenc.records.Links`, as :mod:`pynenc.state_backend._links` writes them in Python,
in Lua functions that the registration and status scripts include (``redis_scripts.py``),
so settling runs in the very script call that ends an invocation.

Keys and fields, under the app's prefix ``pynenc:{app_id}:``:

- ``followers:<id>``: the WAITING invocations waiting for ``<id>`` (a list), taken and
  deleted when ``<id>`` ends: an invocation nothing waits for costs its final status one
  ``EXISTS``;
- ``left`` (a field of a WAITING record): how many invocations it still waits for;
- ``on`` (a field of a WAITING record): ``links.on``, so that the end of an invocation it
  waits for counts it down without decoding its links (a chord body's list as long as the
  chord: decoding it at each member's end made a chord's cost grow with its size squared).
  A record stored without it is settled from its links;
- ``dl`` and ``nb`` (fields of a WAITING record with a delay): ``links.delay`` and
  ``links.not_before`` as text, read with ``on`` when the count reaches zero: the release
  is due at the later of ``dl`` after it and ``nb``;
- ``up`` (a field of a record ended FAILED as a follower): the upstream id its error carries
  as ``"upstream"``, so a follower of it gets the error without it first.

The links themselves are the record's ``links`` field (``records.encode_links``), apart from
its ``meta`` (a record stored by a pynenc that kept them in the meta is read from there):
who reads a step's result does not read the ids of every follower in its ``then``. Errors
are written as text, never decoded and encoded again (cjson would turn an empty list into an
object, cut numbers to 14 digits and refuse a lone surrogate's escape): a follower's error is
its upstream's text with ``"upstream"`` appended. Times stay text too (a Lua number loses
digits when written back with ``tostring``): the timestamp of the ending entry is read from
its JSON, and a delayed step's due time is written with ``%.17g``.
"""

from __future__ import annotations

from pynenc.records import FINAL

_FINAL_TABLE = ", ".join(f"{status.value} = true" for status in sorted(FINAL))

# ``link_functions()`` returns two functions, with ``p`` the key prefix and ``finals`` the ids
# ended (to PUBLISH): ``settle(p, id, status, entry, finals)`` settles what waits for ``id``,
# which has just ended with ``status`` by history entry ``entry`` (JSON text); ``new(p, id,
# links, when, finals)`` links a WAITING invocation just registered at ``when`` (text) with
# ``links`` (its JSON text). They are made on first use: a script call that settles nothing
# builds one closure, not twenty.
LINKS = (
    r"""
local function link_functions()
  local LINK_FINAL = {"""
    + _FINAL_TABLE
    + r"""}
  local function jstr(s)  -- a JSON string as Python writes it (cjson also escapes '/')
    return (string.gsub(cjson.encode(s), '\\/', '/'))
  end
  -- the links of a record: its ``links`` field, or, stored by a pynenc that kept them in
  -- the meta JSON, from there
  local function links_of(text, meta)
    if text and text ~= '' then
      local ok, l = pcall(cjson.decode, text)
      if ok then return l end
      return nil
    end
    if not meta or meta == '' then return nil end
    local ok, m = pcall(cjson.decode, meta)
    if ok then return m.links end
    -- an escape cjson refuses elsewhere (a lone surrogate in a header): the links are the
    -- last key of meta, and hold only ids and names
    local at, from = nil, 1
    while true do
      local i = string.find(meta, '"links":', from, true)
      if not i then break end
      at, from = i, i + 1
    end
    if not at then return nil end
    ok, m = pcall(cjson.decode, string.sub(meta, at + 8, -2))
    if ok then return m end
    return nil
  end
  local function with_upstream(text, parent)  -- a JSON object with "upstream": parent
    local body = string.match(text, '^(.-)%s*}%s*$') or '{'
    local sep = string.match(body, '^%s*{%s*$') and '' or ','
    return body .. sep .. '"upstream":' .. jstr(parent) .. '}'
  end
  local function own_error(p, id)  -- the error of id, without the "upstream" Lua added
    local f = redis.call('HMGET', p .. 'inv:' .. id, 'error', 'up')
    local text = f[1]
    if not text or not f[2] then return text end
    local suffix = '"upstream":' .. jstr(f[2]) .. '}'
    if string.sub(text, -#suffix) ~= suffix then return text end
    local base = string.sub(text, 1, #text - #suffix)
    if string.sub(base, -1) == ',' then base = string.sub(base, 1, -2) end
    return base .. '}'
  end
  -- exception payloads as pynenc.serializer.exceptions writes them (no traceback)
  local function dependency_error(parent, name)
    local message = 'Invocation ' .. parent .. ', which this one waited for, ended ' .. name
    return '{"type":"pynenc.exceptions.DependencyError","message":' .. jstr(message)
      .. ',"args":[' .. jstr(jstr(message)) .. ',' .. jstr(jstr(parent))
      .. '],"attrs":{"upstream":' .. jstr(jstr(parent)) .. '},"traceback":""}'
  end
  local function not_needed(reason)
    local message = 'Error callback not run: ' .. reason
    return '{"type":"pynenc.exceptions.InvocationCancelledError","message":' .. jstr(message)
      .. ',"args":[' .. jstr(jstr(message)) .. ',"null","null","null","null"]'
      .. ',"attrs":{"cancelled_by":"null","cancelled_at":"null","reason":"null",'
      .. '"invocation_id":"null"},"traceback":""}'
  end
  local function upstream_of(up, err)  -- the "upstream" of a record's error, or nil
    if up then return up end
    if not err then return nil end  -- an error written by a caller: its own "upstream"
    local ok, e = pcall(cjson.decode, err)
    if ok and type(e) == 'table' and e.upstream ~= nil and e.upstream ~= cjson.null then
      return tostring(e.upstream)
    end
    return nil
  end
  -- failed by itself, or a chord body whose failure did not come from before the chord
  local function fires_errbacks(p, parent)
    local f = redis.call('HMGET', p .. 'inv:' .. parent, 'error', 'up', 'links', 'meta')
    if not f[1] then return true end
    local upstream = upstream_of(f[2], f[1])
    if not upstream then return true end
    local links = links_of(f[3], f[4])
    if links == nil or (links.recv ~= 'list' and links.recv ~= 'list-ignored') then
      return false
    end
    local before = links.before
    if type(before) ~= 'table' or #before == 0 then return true end
    local set = {}
    for _, id in ipairs(before) do set[id] = true end
    while upstream do  -- bounded by the steps before the failure
      if set[upstream] then return false end
      local g = redis.call('HMGET', p .. 'inv:' .. upstream, 'up', 'error')
      upstream = upstream_of(g[1], g[2])
    end
    return true
  end
  local function upstream_error(p, parent, ended)
    local err = ended == 'failed' and own_error(p, parent) or nil
    return with_upstream(err or dependency_error(parent, string.upper(ended)), parent)
  end
  local function take_waiting(p, id)
    local key = p .. 'followers:' .. id
    local ids = redis.call('LRANGE', key, 0, -1)
    redis.call('DEL', key)
    return ids
  end
  -- when a step released at ts (text) is due: ts itself, or later by its links' delay
  -- and not_before (seconds; %.17g keeps every digit of the double)
  local function due_after(ts, delay, nb)
    delay, nb = tonumber(delay), tonumber(nb)
    if (not delay or delay <= 0) and not nb then return ts end
    local at = tonumber(ts)
    local due = at + (delay or 0)
    if nb and nb > due then due = nb end
    if due == at then return ts end
    return string.format('%.17g', due)
  end
  local function link_move(p, id, new, ts, reason, err, up, finals, due)
    local rec = p .. 'inv:' .. id
    redis.call('HSET', rec, 'status', new)
    redis.call('HDEL', rec, 'left', 'on', 'dl', 'nb')
    redis.call('SREM', p .. 'status:waiting', id)
    redis.call('SADD', p .. 'status:' .. new, id)
    if new == 'scheduled' then
      redis.call('HSET', rec, 'due', due)
      redis.call('ZADD', p .. 'scheduled', due, id)
    else
      redis.call('HSET', rec, 'error', err)
      if up then redis.call('HSET', rec, 'up', up) end
      finals[#finals + 1] = id
    end
    redis.call('RPUSH', p .. 'hist:' .. id,
               '["' .. new .. '",' .. ts .. ',null,' .. jstr(reason) .. ']')
  end
  -- settles child for parent having ended `ended`; the final status child ended with, if any
  local function link_apply(p, parent, ended, child, ts, finals)
    local rec = p .. 'inv:' .. child
    local f = redis.call('HMGET', rec, 'status', 'on', 'dl', 'nb')
    if f[1] ~= 'waiting' then return nil end  -- cancelled, or failed by another member
    if ended == 'success' and f[2] == 'success' then  -- a count-down: the links not decoded
      if redis.call('HINCRBY', rec, 'left', -1) <= 0 then
        local due = due_after(ts, f[3], f[4])
        link_move(p, child, 'scheduled', ts, 'released by ' .. parent, nil, nil, finals, due)
      end
      return nil
    end
    local stored = redis.call('HMGET', rec, 'links', 'meta')
    local links = links_of(stored[1], stored[2])
    if not links then return nil end
    if links.on == 'failure' then
      if ended == 'failed' and fires_errbacks(p, parent) then
        local due = due_after(ts, links.delay, links.not_before)
        link_move(p, child, 'scheduled', ts, parent .. ' failed', nil, nil, finals, due)
        return nil
      end
      local reason = 'not needed: ' .. parent .. ' ended ' .. string.upper(ended)
      link_move(p, child, 'cancelled', ts, reason, not_needed(reason), nil, finals)
      return 'cancelled'
    end
    if ended == 'success' then
      if redis.call('HINCRBY', rec, 'left', -1) <= 0 then
        local due = due_after(ts, links.delay, links.not_before)
        link_move(p, child, 'scheduled', ts, 'released by ' .. parent, nil, nil, finals, due)
      end
      return nil
    end
    local reason = parent .. ' ended ' .. string.upper(ended)
    link_move(p, child, 'failed', ts, reason, upstream_error(p, parent, ended), parent, finals)
    return 'failed'
  end
  local function link_settle_children(p, parent, ended, children, ts, finals)
    local queue, i = {{parent, ended, children}}, 1
    while i <= #queue do
      local item = queue[i]
      i = i + 1
      for _, child in ipairs(item[3]) do
        local moved = link_apply(p, item[1], item[2], child, ts, finals)
        if moved then queue[#queue + 1] = {child, moved, take_waiting(p, child)} end
      end
    end
  end
  local function link_settle(p, id, ended, entry, finals)
    local ts = string.match(entry, '^%[%s*"[^"]*"%s*,%s*([^,%s]+)')
    link_settle_children(p, id, ended, take_waiting(p, id), ts, finals)
  end
  local function link_new(p, id, text, when, finals)
    local links = links_of(text)
    if not links or not links.after then return end
    local fields = {'left', #links.after, 'on', links.on or 'success'}
    if (tonumber(links.delay) or 0) > 0 then  -- the step's own delay, for the count-down
      fields[#fields + 1], fields[#fields + 2] = 'dl', string.format('%.17g', links.delay)
    end
    if tonumber(links.not_before) then
      fields[#fields + 1], fields[#fields + 2] = 'nb', string.format('%.17g', links.not_before)
    end
    redis.call('HSET', p .. 'inv:' .. id, unpack(fields))
    local ended = {}
    for _, parent in ipairs(links.after) do
      local status = redis.call('HGET', p .. 'inv:' .. parent, 'status')
      if status and LINK_FINAL[status] then
        ended[#ended + 1] = {parent, status}
      else
        redis.call('RPUSH', p .. 'followers:' .. parent, id)
      end
    end
    for _, e in ipairs(ended) do link_settle_children(p, e[1], e[2], {id}, when, finals) end
  end
  return link_settle, link_new
end
"""
)
