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

from typing import Any

from celery.app import defaults as celery_defaults

from pynenc_celery_compat import settings as compat_settings
from pynenc_celery_compat.beat import CALL_OPTIONS, CALL_OPTIONS_TOO, IGNORED, REFUSED
from pynenc_celery_compat.calling import _BROKER_ONLY
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
        if missing:
            return differs(
                "custom-serializers",
                f"{', '.join(missing)}: register it with pynenc.serializer.register_serializer "
                "(pynenc has json and pickle)",
            )
    if row.effect == "ignored":
        return differs("settings-that-do-not-apply", f"no effect on pynenc (warned): {row.note}")
    if row.effect == "always":
        return ok("settings", f"what pynenc does anyway: {row.note}")
    return ok("settings", row.note)


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
    if name in _BROKER_ONLY:
        return differs("broker-options", "a broker detail of Celery's: no effect (warned)")
    if name in CALL_OPTIONS or name in CALL_OPTIONS_TOO:
        return ok("beat", "an option of each periodic call")
    return no("beat", f"not an option pynenc can give a periodic call: {name}= is refused")


NOT_JSON = no("beat", "entry arguments must be JSON values (a datetime: pass its ISO string)")
LAZY = no("beat", "BeatLazyFunc arguments are refused: compute the value inside the task")
ADD_PERIODIC = ok("beat", "Celery's own: an entry in beat_schedule, run by the runners")
BEAT_SCHEDULE = ok("beat", "each entry becomes a trigger the runners run, once per occasion")
