"""One round trip per call where the broker and the state backend are the same Redis.

A call registers its invocation (state backend) and then publishes its message (broker):
two round trips, in that order, so that no runner can take a message whose record does
not exist yet. When both live in the same Redis server and database, one Lua script can
do both: it stores the records and, once every one of them is stored, pushes the
messages onto the broker's lists, exactly as kombu's Redis transport would have pushed
them (the broker builds the items: :meth:`KombuBroker.pushes`). The script is atomic, so
the record still exists before its message can be consumed, and a failure reaches the
caller at the call site as before (the whole call is then neither stored nor sent).

Everything else stays on the separate paths: calls with registration control, scheduled
or waiting ones, batches larger than one script should hold, brokers whose items need
more than a push (see ``Channel.capture``), and a broker on another server or database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.state_backend.redis_scripts import REGISTER_RECORD, register_fields, script_json

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

    from pynenc.broker.envelope import Envelope
    from pynenc.broker.kombu_broker import KombuBroker
    from pynenc.state_backend.redis import RedisStateBackend

#: Most records one fused call registers (larger batches take the separate paths).
MAX_RECORDS = 500

# ARGV: key prefix, the records (one JSON array, see register_fields), the registration
# time, then a list key and an item for each message. The messages are pushed only once
# every record is stored: an id stored already (a caller-chosen id seen before) leaves
# the publishing to the caller, which drops the messages of the calls held that way.
# Returns a '0'/'1' string: was each record inserted?
REGISTER_AND_PUSH = (
    REGISTER_RECORD
    + """
local p, when, inserted, all = ARGV[1], ARGV[3], {}, true
for _, r in ipairs(cjson.decode(ARGV[2])) do
  local new = register_record(p, r, when)
  inserted[#inserted + 1] = new and '1' or '0'
  all = all and new
end
if all then
  for i = 4, #ARGV, 2 do redis.call('LPUSH', ARGV[i], ARGV[i + 1]) end
end
return table.concat(inserted)
"""
)


class FusedPath:
    """Registers and publishes plain calls in one script call."""

    def __init__(self, backend: RedisStateBackend, broker: KombuBroker) -> None:
        self.backend = backend
        self.broker = broker
        self._script: Script | None = None

    def send(
        self,
        records: Sequence[InvocationRecord],
        envelopes: Sequence[Envelope],
        entry_time: float,
        per_message: int,
    ) -> list[bool] | None:
        """Register ``records`` and push ``envelopes`` (one per record, same order) in one
        round trip; whether each record was inserted (all of them: the messages are in
        the queues; not all: nothing was pushed). ``None``: nothing was done, take the
        separate paths.

        :raises StateBackendError: the server could not run it (nothing stored or sent).
        """
        if len(records) > MAX_RECORDS or any(
            r.status is not InvocationStatus.REGISTERED for r in records
        ):
            return None
        pushes = self.broker.pushes(envelopes, per_message)
        if pushes is None:
            return None
        backend = self.backend
        args = [
            backend.prefix,
            script_json([register_fields(record, entry_time) for record in records]),
            repr(entry_time),
        ]
        for key, item in pushes:
            args += (key, item)

        def run(client: redis.Redis) -> str:
            if self._script is None:
                self._script = client.register_script(REGISTER_AND_PUSH)
            return cast(str, self._script(args=args, client=client))

        inserted = [flag == "1" for flag in backend._call(run)]
        if all(inserted):
            backend._note_fresh(record.invocation_id for record in records)
        return inserted


def fused_path(backend: object, broker: KombuBroker) -> FusedPath | None:
    """The fused path of an app whose state backend is ``backend``, or ``None`` when the
    broker is not the same Redis server and database."""
    from pynenc.state_backend.redis import RedisStateBackend

    if not isinstance(backend, RedisStateBackend) or not same_redis(backend.url, broker.url):
        return None
    if broker.info.transport_class != "pynenc.broker.redis_transport:Transport":
        return None
    return FusedPath(backend, broker)


def same_redis(state_url: str, broker_url: str) -> bool:
    """Whether two URLs name the same Redis server, database and credentials."""
    from urllib.parse import urlsplit

    from redis.connection import parse_url

    if ";" in broker_url or urlsplit(broker_url).scheme != urlsplit(state_url).scheme:
        return False
    try:
        state = parse_url(state_url)  # type: ignore[no-untyped-call]
        broker = parse_url(broker_url)  # type: ignore[no-untyped-call]
    except ValueError:
        return False
    fields = ("host", "port", "path", "db", "username", "password")

    def key(options: dict[str, object]) -> tuple[object, ...]:
        values = {"port": 6379, "db": 0, **options}
        return tuple(values.get(name) for name in fields)

    return key(state) == key(broker)
