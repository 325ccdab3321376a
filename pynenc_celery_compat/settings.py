"""Every Celery setting and what it does here: the table behind ``docs/celery.md``, "Settings".

One row per setting (``broker_url``) or per family of settings (``cassandra_*``: every
setting of that prefix no row names). The effect of a row is one of:

``pynenc``
    mapped onto a pynenc option of the app the compat tasks run on (see
    :func:`pynenc_celery_compat.config.pynenc_config_values`);
``compat``
    read by this package when a task is called or run;
``celery``
    read by Celery's own code, which still runs here (eager mode, the task attributes
    Celery binds from the settings, tasks switched back to Celery);
``always``
    what the setting asks for is what pynenc does anyway: nothing to set;
``ignored``
    no effect on the tasks that run on pynenc: set to anything but Celery's default it
    is warned about once per process, with what to use instead.

Names are Celery's lower-case names; ``app.conf`` also reads them under the old upper-case
names (``CELERY_ALWAYS_EAGER``, ``BROKER_URL``) and Django's ``CELERY_`` namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Effect = Literal["pynenc", "compat", "celery", "always", "ignored"]
EFFECTS: tuple[Effect, ...] = ("pynenc", "compat", "celery", "always", "ignored")


@dataclass(frozen=True, slots=True)
class Setting:
    """One row: a Celery setting (or a ``prefix_*`` family), its effect, and what happens."""

    name: str
    effect: Effect
    note: str

    @property
    def is_family(self) -> bool:
        return self.name.endswith("*")


def _rows(effect: Effect, note: str, *names: str) -> tuple[Setting, ...]:
    return tuple(Setting(name, effect, note) for name in names)


_RECONNECT = (
    "runners wait for the broker and reconnect by themselves; a publish is retried "
    "broker.publish_retries times (task_publish_retry_policy)"
)
_BACKEND_ONLY = (
    "an option of a Celery result backend pynenc has no state backend for; the state "
    "backend is chosen by result_backend's URL alone"
)
_LOGGING = "pynenc leaves logging to the process; pynenc's own level: the pynenc logging_level"

SETTINGS: tuple[Setting, ...] = (
    # -- broker ----------------------------------------------------------------------------
    Setting(
        "broker_url",
        "pynenc",
        "broker_url: any kombu URL (the CELERY_BROKER_URL environment variable too). Unset: "
        "memory:// (one process), where Celery would use amqp://guest@localhost//",
    ),
    Setting(
        "broker_host",
        "pynenc",
        "read as broker_url when broker_url is unset (Celery's rule)",
    ),
    Setting(
        "broker_transport_options",
        "pynenc",
        "broker.transport_options, given to kombu as they are",
    ),
    *_rows(
        "ignored",
        "one URL: put user, password, host, port and virtual host in broker_url",
        "broker_port",
        "broker_user",
        "broker_password",
        "broker_vhost",
    ),
    Setting("broker_transport", "ignored", "name the transport by broker_url's scheme"),
    *_rows(
        "ignored",
        "pynenc reads and writes through broker_url",
        "broker_read_url",
        "broker_write_url",
    ),
    Setting(
        "broker_use_ssl",
        "ignored",
        "use a TLS URL (rediss://, amqps://) and TLS options in broker_transport_options",
    ),
    Setting("broker_login_method", "ignored", "kombu's default login method is used"),
    *_rows(
        "ignored",
        _RECONNECT,
        "broker_connection_retry",
        "broker_connection_max_retries",
        "broker_connection_timeout",
        "broker_channel_error_retry",
        "broker_failover_strategy",
    ),
    Setting(
        "broker_connection_retry_on_startup",
        "always",
        "a starting runner waits for the broker, as Celery's workers do with it on",
    ),
    *_rows(
        "ignored",
        "pynenc keeps its own broker connections (kombu's heartbeat defaults)",
        "broker_heartbeat",
        "broker_heartbeat_checkrate",
        "broker_pool_limit",
        "broker_pool_acquire_timeout",
    ),
    Setting(
        "broker_native_delayed_delivery_queue_type",
        "always",
        "countdown and eta are kept by pynenc's scheduler, never by the broker",
    ),
    # -- results -----------------------------------------------------------------------------
    Setting(
        "result_backend",
        "pynenc",
        "state_backend_url: redis:// and rediss:// → Redis, db+sqlite:///path → SQLite, "
        "cache+memory:// → memory; rpc:// or unset → the broker's Redis, or memory with a "
        "memory:// broker (anything else: set a result backend); other schemes are refused "
        "(the pynenc setting can name a state backend instead)",
    ),
    *_rows(
        "ignored",
        "pynenc keeps invocation records until they are purged (pynenc purge); "
        "AsyncResult.forget() drops one",
        "result_expires",
        "result_failure_expires",
    ),
    Setting(
        "result_serializer",
        "ignored",
        "results use the arguments' serializer (task_serializer); applies when both agree",
    ),
    Setting(
        "result_accept_content",
        "ignored",
        "results are decoded with the serializers accept_content lists; applies when both agree",
    ),
    Setting(
        "result_extended",
        "always",
        "AsyncResult.name/args/kwargs/worker/retries/queue are read from pynenc's record of "
        "every call",
    ),
    *_rows(
        "ignored",
        "a state backend waits for its server up to state_backend_connect_timeout (pynenc)",
        "result_backend_always_retry",
        "result_backend_max_retries",
        "result_backend_base_sleep_between_retries_ms",
        "result_backend_max_sleep_between_retries_ms",
    ),
    *_rows(
        "ignored",
        "options of Celery's result backends; pynenc's are set by the URL",
        "result_backend_transport_options",
        "result_cache_max",
        "result_compression",
    ),
    *_rows(
        "ignored",
        "options of Celery's AMQP result backend",
        "result_exchange",
        "result_exchange_type",
        "result_persistent",
    ),
    *_rows(
        "ignored",
        "options of Celery's chord_unlock polling; pynenc does not poll",
        "result_chord_join_timeout",
        "result_chord_retry_interval",
        "result_chord_expires",
    ),
    # -- tasks -------------------------------------------------------------------------------
    Setting(
        "task_serializer",
        "pynenc",
        "serializer (arguments and results): json, pickle, or one registered with "
        "pynenc.serializer.register_serializer",
    ),
    Setting(
        "accept_content",
        "pynenc",
        "accept_serializers (the serializers runners and waiters decode besides task_serializer)",
    ),
    Setting(
        "task_default_queue",
        "pynenc",
        "the queue of compat tasks without one (task.queue); Celery's celery by default",
    ),
    Setting(
        "task_queues",
        "pynenc",
        "runner.queues: the names of the queues a runner consumes when not told (-Q)",
    ),
    Setting(
        "task_routes",
        "compat",
        "applied on each call: task-name globs, re.compile patterns, router functions "
        "(name, args, kwargs, options, task) and lists of them; an explicit queue= or a "
        "task's own queue wins, as in Celery",
    ),
    Setting("task_default_priority", "pynenc", "task.priority (0-9, higher first)"),
    Setting(
        "task_default_rate_limit",
        "pynenc",
        "task.rate_limit, across every runner together (Celery's is per worker)",
    ),
    Setting("task_time_limit", "pynenc", "task.timeout (hard limit of one attempt)"),
    Setting(
        "task_soft_time_limit",
        "pynenc",
        "task.soft_timeout: SoftTimeLimitExceeded is raised in the task",
    ),
    Setting(
        "task_publish_retry",
        "pynenc",
        "False: broker.publish_retries = 0",
    ),
    Setting(
        "task_publish_retry_policy",
        "pynenc",
        "broker.publish_retries = its max_retries (pynenc's own intervals)",
    ),
    *_rows(
        "celery",
        "Celery's eager mode (see 'Eager mode and tests')",
        "task_always_eager",
        "task_eager_propagates",
        "task_store_eager_result",
    ),
    Setting(
        "task_ignore_result",
        "celery",
        "bound by Celery as tasks' ignore_result: get() returns None at once",
    ),
    Setting(
        "task_track_started",
        "celery",
        "bound by Celery as tasks' track_started: the state shows STARTED while running",
    ),
    *_rows(
        "always",
        "a runner's running work is re-run elsewhere when it dies (runner.max_reroutes), "
        "without Celery's visibility-timeout duplicates",
        "task_acks_late",
        "task_reject_on_worker_lost",
        "task_retry_on_worker_lost",
    ),
    *_rows(
        "ignored",
        "a failed or timed-out invocation is FAILURE, never put back in the queue",
        "task_acks_on_failure_or_timeout",
        "task_acks_on_failure",
        "task_acks_on_timeout",
    ),
    Setting(
        "task_create_missing_queues",
        "always",
        "pynenc declares a queue when a task uses it",
    ),
    Setting(
        "task_store_errors_even_if_ignored",
        "always",
        "pynenc records every outcome",
    ),
    Setting(
        "task_annotations",
        "celery",
        "applied by Celery to each task when it is bound to the app (rate_limit, "
        "time_limit, max_retries, … as task attributes, which compat tasks read)",
    ),
    *_rows(
        "ignored",
        "pynenc routes by queue name; exchanges, routing keys and queue types are its own",
        "task_default_exchange",
        "task_default_exchange_type",
        "task_default_routing_key",
        "task_default_delivery_mode",
        "task_default_queue_type",
        "task_create_missing_queue_type",
        "task_create_missing_queue_exchange_type",
        "task_queue_max_priority",
    ),
    *_rows(
        "ignored",
        "pynenc's messages have their own format",
        "task_protocol",
        "task_compression",
    ),
    Setting(
        "task_inherit_parent_priority",
        "ignored",
        "pass priority= to the calls made inside a task",
    ),
    Setting(
        "task_remote_tracebacks",
        "ignored",
        "the task's traceback is kept as text: AsyncResult.traceback",
    ),
    Setting("task_repr_maxlevels", "ignored", "pynenc's logs print arguments their own way"),
    Setting(
        "task_send_sent_event",
        "ignored",
        "no Celery events: pynenc status and pynenc runners show the work",
    ),
    Setting(
        "task_allow_error_cb_on_chord_header",
        "compat",
        "as in Celery: a chord's link_error (and a chain's, reaching a chord) also goes to "
        "the header's tasks",
    ),
    # -- workers (pynenc runners) ------------------------------------------------------------
    Setting(
        "worker_concurrency",
        "pynenc",
        "runner.threads and runner.processes (unset: pynenc's defaults)",
    ),
    Setting(
        "worker_pool",
        "pynenc",
        "runner_cls: prefork → PersistentProcessRunner, threads → ThreadRunner, solo → "
        "ThreadRunner with one thread; others warn and use ThreadRunner. Unset: ThreadRunner",
    ),
    Setting(
        "worker_soft_shutdown_timeout",
        "pynenc",
        "runner.stop_grace: how long running work may finish when a runner stops",
    ),
    *_rows(
        "always",
        "a runner takes only as much work as it has free slots",
        "worker_prefetch_multiplier",
        "worker_disable_prefetch",
        "worker_enable_prefetch_count_reduction",
    ),
    Setting(
        "worker_eta_task_limit",
        "always",
        "delayed calls wait in the state backend, not in runner memory",
    ),
    Setting(
        "worker_state_db",
        "always",
        "revokes (cancellations) are stored in the state backend, seen by every runner",
    ),
    Setting(
        "worker_deduplicate_successful_tasks",
        "always",
        "a finished invocation is never claimed again",
    ),
    *_rows(
        "ignored",
        _LOGGING,
        "worker_hijack_root_logger",
        "worker_log_color",
        "worker_log_format",
        "worker_log_datefmt",
        "worker_task_log_format",
        "worker_task_log_datefmt",
        "worker_redirect_stdouts",
        "worker_redirect_stdouts_level",
    ),
    *_rows(
        "ignored",
        "no Celery events or remote control: pynenc status, pynenc runners and "
        "control.revoke (a durable cancel)",
        "worker_send_task_events",
        "worker_enable_remote_control",
    ),
    Setting(
        "worker_*",
        "ignored",
        "Celery worker internals; pynenc runners are set by pynenc's runner options",
    ),
    # -- time, modules, beat -----------------------------------------------------------------
    Setting(
        "timezone",
        "pynenc",
        "timezone: the zone beat's crontabs run in (Celery's app.timezone and app.now() "
        "too); naive eta/expires datetimes are UTC, as in Celery",
    ),
    Setting(
        "enable_utc",
        "pynenc",
        "without timezone: True (default) runs beat's crontabs in UTC, False in the "
        "machine's local zone (pynenc's timezone), as Celery's app.timezone",
    ),
    *_rows(
        "pynenc",
        "task_modules: a runner imports them before it starts (fails fast if one does not "
        "import); with Celery's Django fix-up, Celery's loader imports them after Django's "
        "setup instead",
        "imports",
        "include",
    ),
    Setting(
        "beat_schedule",
        "compat",
        "each entry becomes a trigger on its task, run by the runners themselves: no beat "
        "process (see 'Beat (periodic tasks)')",
    ),
    Setting(
        "beat_cron_starting_deadline",
        "pynenc",
        "trigger.missed = 'skip' with trigger.missed_after = the deadline: a run missed by "
        "more is dropped (unset: the latest missed run runs once)",
    ),
    Setting(
        "beat_*",
        "ignored",
        "there is no beat process: the runners run beat_schedule (a scheduler class such "
        "as django-celery-beat's DatabaseScheduler is not read; see 'Beat (periodic tasks)')",
    ),
    # -- what pynenc does otherwise ------------------------------------------------------
    Setting(
        "security_*",
        "ignored",
        "message signing in pynenc: broker.signing_keys (in the pynenc setting)",
    ),
    Setting("event_*", "ignored", "no Celery events: pynenc status shows the work"),
    Setting("control_*", "ignored", "no remote control queues: control.revoke cancels durably"),
    *(
        Setting(f"{prefix}_*", "ignored", _BACKEND_ONLY)
        for prefix in (
            "arangodb",
            "azureblockblob",
            "cache",
            "cassandra",
            "cosmosdbsql",
            "couchbase",
            "database",
            "elasticsearch",
            "gcs",
            "mongodb",
            "redis",
            "s3",
        )
    ),
    # -- this package's own ----------------------------------------------------------------
    Setting(
        "pynenc",
        "compat",
        "pynenc options in pynenc's configuration-file shape (e.g. {'runner': {'threads': "
        "4}}); they win over the mapped ones (PYNENC__* environment variables win over both)",
    ),
    Setting("pynenc_*", "compat", "this package's other settings (see their sections)"),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS if not setting.is_family}
_FAMILIES = sorted(
    (setting for setting in SETTINGS if setting.is_family),
    key=lambda setting: -len(setting.name),
)


def find(name: str) -> Setting | None:
    """The row of Celery setting ``name`` (lower-case): its own, or its family's."""
    setting = _BY_NAME.get(name)
    if setting is not None:
        return setting
    for family in _FAMILIES:
        if name.startswith(family.name[:-1]):
            return family
    return None


def markdown_table() -> str:
    """The table as ``docs/celery.md`` shows it (one line per row)."""
    lines = ["| Celery setting | Effect | What pynenc does |", "|---|---|---|"]
    lines.extend(
        f"| `{setting.name}` | {setting.effect} | {setting.note} |" for setting in SETTINGS
    )
    return "\n".join(lines)


__all__ = ["EFFECTS", "SETTINGS", "Effect", "Setting", "find", "markdown_table"]


if __name__ == "__main__":  # python -m pynenc_celery_compat.settings: the docs' table
    print(markdown_table())
