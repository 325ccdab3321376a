"""Settings and beat entries rated against the compat layer.

A setting is rated by its row in :mod:`pynenc_celery_compat.settings` (the table behind
``docs/celery.md``, "Settings"): mapped, read by the compat layer or by Celery's own code,
or what pynenc does anyway, is supported; a setting with no effect on pynenc is supported
with a difference. A few values change that (a result backend pynenc has no state backend
for, a green-thread pool, django-celery-beat's scheduler, a serializer pynenc lacks).

Beat entries are rated by what :mod:`pynenc_celery_compat.beat` makes of them: its tables of
refused and ignored options are the ones read here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery.app import defaults as celery_defaults

from pynenc.exceptions import ConfigError
from pynenc_celery_compat import settings as compat_settings
from pynenc_celery_compat.beat import CALL_OPTIONS, CALL_OPTIONS_TOO, IGNORED, REFUSED
from pynenc_celery_compat.calling import BROKER_ONLY
from pynenc_celery_compat.config import broker_url, state_backend_url
from pynenc_celery_compat.migration.catalog import Rating, differs, no, ok, unknown

#: a value the audit could not read (not a literal)
UNREAD: Any = object()

_CELERY_KEYS: frozenset[str] = frozenset(celery_defaults.SETTING_KEYS)
#: Celery's old upper-case names (``CELERY_ALWAYS_EAGER``, ``BROKER_URL``) -> new ones
_OLD_KEYS: dict[str, str] = dict(getattr(celery_defaults, "_TO_NEW_KEY", {}))

_STATE_BACKENDS = ("redis", "rediss", "db+sqlite", "cache+memory", "rpc")
_SERIALIZERS = ("json", "application/json", "pickle", "application/x-python-serialize")


def is_setting(name: str) -> bool:
    """A lower-case name Celery or the compat layer knows as a setting."""
    return name in _CELERY_KEYS or name == "pynenc" or name.startswith("pynenc_")


def canonical(written: str) -> str | None:
    """The lower-case setting an upper-case name stands for (``CELERY_TASK_ALWAYS_EAGER``,
    ``CELERY_ALWAYS_EAGER``, ``BROKER_URL``), ``None`` when it names no Celery setting;
    a lower-case name is returned as it is when it is a setting."""
    if written.islower() or not written.isupper():
        return written if is_setting(written) else None
    if written in _OLD_KEYS:
        return _OLD_KEYS[written]
    if written.startswith("CELERY_"):
        name = written.removeprefix("CELERY_").lower()
        return name if is_setting(name) else None
    return None


def looks_like_celery(written: str) -> bool:
    """An upper-case name in Celery's namespace, known or not (``CELERY_…``, old names)."""
    return written.startswith(("CELERY_", "CELERYD_", "CELERYBEAT_")) or written in _OLD_KEYS


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set):
        return [item for item in value if isinstance(item, str)]
    return []


#: a name in Celery's namespace that Celery does not know (``CELERY_EMAIL_BACKEND`` of
#: django-celery-email, ``app.conf.redbeat_redis_url``): Celery keeps it unread
NOT_A_SETTING = ok(
    "settings",
    "not one of Celery's settings: Celery and the compat layer keep it for the code that "
    "reads it (a library's own); if it is meant as one of Celery's, check its spelling",
)


#: mapped settings whose value reads differently on pynenc: the difference's anchor, why
DIFFERENT_MEANING = {
    "task_default_priority": ("priorities", "on every broker (Celery on Redis: lower first)"),
}


def setting(name: str, value: Any = UNREAD, *, pynenc_state_backend: bool = False) -> Rating:
    """The setting ``name`` (lower-case) set to ``value`` (a literal, or :data:`UNREAD`);
    ``pynenc_state_backend``: the same settings name pynenc's state backend (``pynenc``)."""
    row = compat_settings.find(name)
    if row is None:
        return unknown("settings", f"setting {name}")
    if name == "result_backend" and isinstance(value, str):
        scheme = value.split("://", 1)[0] if "://" in value else value
        if scheme not in _STATE_BACKENDS and not pynenc_state_backend:
            return no(
                "settings",
                f"pynenc has no state backend for {scheme!r} (ConfigError at first use): name "
                "one in the pynenc setting, e.g. {'state_backend_url': 'redis://…'}",
            )
        if scheme not in _STATE_BACKENDS:
            return differs(
                "a-result-backend-pynenc-can-share-is-required",
                f"{scheme!r} stays Celery's; compat calls use the pynenc setting's state backend",
            )
    if name == "worker_pool" and value in ("gevent", "eventlet"):
        return differs(
            "green-thread-pools",
            "pynenc has no green-thread runner: threads are used (pynenc-celery worker -P "
            f"{value} exits 2)",
        )
    if name == "beat_scheduler" and isinstance(value, str) and "django_celery_beat" in value:
        return differs(
            "django-celery-beat",
            "its rows are not read by pynenc's runners: keep celery beat for them, or move "
            "them into beat_schedule",
        )
    if name in ("task_serializer", "accept_content"):
        missing = [item for item in _names(value) if item not in _SERIALIZERS]
        if missing and name == "task_serializer":
            return no(
                "settings",
                f"pynenc has no {missing[0]!r} serializer (ConfigError at the first call): "
                "register it with pynenc.serializer.register_serializer, or use json or pickle",
            )
        if missing:
            return differs(
                "custom-serializers",
                f"{', '.join(missing)}: not accepted until registered with "
                "pynenc.serializer.register_serializer (pynenc has json and pickle)",
            )
    if name in DIFFERENT_MEANING:
        anchor, why = DIFFERENT_MEANING[name]
        return differs(anchor, f"{row.note}, {why}")
    if row.effect == "ignored":
        return differs("settings-that-do-not-apply", f"no effect on pynenc (warned): {row.note}")
    if row.effect == "always":
        return ok("settings", f"what pynenc does anyway: {row.note}")
    return ok("settings", row.note)


# -- where pynenc keeps call states: the broker and result backend together -----------------


@dataclass(frozen=True)
class Stores:
    """What every module read says: the brokers named (literal URLs), and whether some
    module sets a result backend (``rpc://`` included: its own finding says what it needs)
    or a state backend in the ``pynenc`` setting."""

    brokers: frozenset[str]
    backend: bool
    #: what the schedules held in module-level names are: qual -> ``crontab``, ``interval``…
    schedules: Mapping[str, str] = field(default_factory=dict)
    #: a name as the module defining it names it (``proj.X`` re-exported -> ``proj.const.X``)
    resolve: Callable[[str], str] = str


#: a rating decided once every module has been read (``None``: the first rating stands)
Recheck = Callable[[Stores], "Rating | None"]


def is_rpc(value: Any) -> bool:
    """``rpc://``, which keeps the calls' states where the broker is."""
    return isinstance(value, str) and (value == "rpc" or value.startswith("rpc://"))


def _holds_states(broker: str, backend: str | None) -> bool:
    try:
        state_backend_url(backend, broker_url(broker))
    except ConfigError:
        return False
    return True


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else url


def broker_recheck(broker: str) -> Recheck:
    """A broker that cannot hold the states (RabbitMQ, SQS…) is refused at the first call
    unless some module sets a result backend."""

    def recheck(stores: Stores) -> Rating | None:
        if stores.backend or _holds_states(broker, None):
            return None
        return no(
            "settings",
            f"a {_scheme(broker)!r} broker and no result backend: pynenc has nowhere to keep "
            "the calls' states (ConfigError at the first call); set result_backend to "
            "redis://… or db+sqlite:///…, or {'state_backend_url': …} in the pynenc setting",
        )

    return recheck


def rpc_recheck(stores: Stores) -> Rating | None:
    """``rpc://``: the broker's Redis (memory with ``memory://``) keeps the states; with
    any other broker the first call raises ``ConfigError``."""
    refused = sorted({_scheme(b) for b in stores.brokers if not _holds_states(b, "rpc://")})
    if refused:
        return no(
            "settings",
            f"rpc:// with a {refused[0]!r} broker: pynenc has nowhere to keep the calls' states "
            "(ConfigError at the first call); set result_backend to redis://… or "
            "db+sqlite:///…, or {'state_backend_url': …} in the pynenc setting",
        )
    if stores.brokers:
        return None
    return differs(
        "a-result-backend-pynenc-can-share-is-required",
        "rpc:// keeps the calls' states in the broker's Redis (memory with memory://); with "
        "RabbitMQ or any other broker the first call raises ConfigError: set a result backend",
    )


# -- beat --------------------------------------------------------------------------------------

#: interval lengths for which relative=True is exactly a cron line (beat.py's table)
_RELATIVE_EXACT = (60.0, 3600.0, 86400.0)

SCHEDULES: dict[str, Rating] = {
    "crontab": ok("beat", "a cron trigger the runners evaluate (no beat process), in timezone"),
    "interval": ok("beat", "an interval trigger the runners evaluate (no beat process)"),
    "solar": no(
        "beat",
        "solar schedules are not supported: give the entry a crontab at the event's local "
        "time, or keep it on celery beat",
    ),
    "string": no(
        "beat", "a string is not a schedule: write crontab.from_string('m h dom mon dow')"
    ),
    "missing": no("beat", "the entry has no 'schedule'"),
}


def schedule(kind: str, what: str = "") -> Rating:
    """An entry's schedule: ``crontab``, ``interval``, ``solar``, ``string``, ``missing``;
    anything else (a class or function of the project's, a value the audit cannot follow)
    is not known to the audit (the runners take only Celery's own schedules)."""
    return SCHEDULES.get(kind) or unknown(
        "beat",
        f"schedule {what or kind} (the runners take crontab, seconds, timedelta, schedule())",
    )


def imported_schedule(qual: str) -> Recheck:
    """A schedule imported from another module (``from .const import HEARTBEAT``): rated
    as what that module holds, once it has been read."""

    def recheck(stores: Stores) -> Rating | None:
        kind = stores.schedules.get(stores.resolve(qual))
        return SCHEDULES.get(kind) if kind is not None else None

    return recheck


def relative(seconds: float | None) -> Rating:
    if seconds is not None and (seconds in _RELATIVE_EXACT or seconds < 60):
        return ok("beat", "relative=True: the same runs as Celery's beat")
    return differs(
        "intervals-keep-a-fixed-grid",
        "relative=True is exact for 1 minute, 1 hour and 1 day only: other intervals warn "
        "and run unrounded",
    )


def beat_option(name: str) -> Rating:
    """An option of a beat entry (Celery's apply_async options)."""
    if name in REFUSED:
        return no("beat", f"refused for a periodic call: {REFUSED[name]}")
    if name in IGNORED:
        return differs(
            "beat-without-a-beat-process", f"no effect on a periodic call (warned): {IGNORED[name]}"
        )
    if name in BROKER_ONLY:
        return differs("broker-options", "a broker detail of Celery's: no effect (warned)")
    if name in CALL_OPTIONS or name in CALL_OPTIONS_TOO:
        return ok("beat", "an option of each periodic call")
    return no("beat", f"not an option pynenc can give a periodic call: {name}= is refused")


NOT_JSON = no("beat", "entry arguments must be JSON values (a datetime: pass its ISO string)")
LAZY = no("beat", "BeatLazyFunc arguments are refused: compute the value inside the task")
ADD_PERIODIC = ok("beat", "Celery's own: an entry in beat_schedule, run by the runners")
UNREAD_SCHEDULE = no(
    "beat",
    "built at run time, its entries were not read: list them with `pynenc-celery -A PROJ "
    "beat`, which exits 1 naming an entry the runners cannot run",
)
BEAT_SCHEDULE = ok("beat", "each entry becomes a trigger the runners run, once per occasion")
