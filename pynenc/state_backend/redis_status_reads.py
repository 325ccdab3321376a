"""Reading records by status in the Redis state backend
(:meth:`~pynenc.state_backend.base.StateBackend.get_many_in_status`).

One read-only script per ``READ_CHUNK`` records: each record's status is looked at on the
server, and only a record in the status asked for is sent back whole. A chord's body,
WAITING, has links naming every member: the runner of each member looks at it after its
end, and reading it whole every time made a chord's cost grow with its size squared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.state_backend.redis_scripts import decode_record

if TYPE_CHECKING:
    import redis

    from pynenc.state_backend.redis import RedisStateBackend

#: Records per script call.
READ_CHUNK = 1000

# KEYS: the records. ARGV: the status. Per record, its fields (a flat list) when it is in
# that status, else 0 (an unknown record too).
IN_STATUS = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'status') == ARGV[1] then
    out[i] = redis.call('HGETALL', key)
  else
    out[i] = 0
  end
end
return out
"""


def get_many_in_status(
    backend: RedisStateBackend, invocation_ids: Sequence[str], status: InvocationStatus
) -> list[InvocationRecord | None]:
    """The records of ``invocation_ids`` in ``status`` (``None`` for the others)."""
    script = backend._in_status_script
    keys = [backend.prefix + "inv:" + invocation_id for invocation_id in invocation_ids]

    def run(client: redis.Redis) -> list[Any]:
        replies: list[Any] = []
        for start in range(0, len(keys), READ_CHUNK):
            chunk = keys[start : start + READ_CHUNK]
            replies.extend(script(chunk, [status.value], client=client))
        return replies

    replies = backend._call(run) if keys else []
    return [
        decode_record(inv, dict(zip(fields[::2], fields[1::2], strict=True)))
        if isinstance(fields, list)
        else None
        for inv, fields in zip(invocation_ids, replies, strict=True)
    ]
