"""What the audit knows of the Celery app, its signals and Celery's test tooling."""

from __future__ import annotations

from pynenc_celery_compat.migration.catalog import Rating, differs, no, ok, unknown

#: which app a use is on: this package's ``Celery``, a real ``celery.Celery``, or one the
#: audit could not trace (imported from code it did not read)
AppKind = str
COMPAT_APP, CELERY_APP, UNKNOWN_APP = "compat", "celery", "unknown"

_STAYS = (
    "it stays a Celery task, run by Celery's workers, until the app's import moves to "
    "pynenc_celery_compat or the task is wrapped (wrap_task)"
)


def app_task(app: AppKind) -> Rating:
    """``@app.task``: a compat task on this package's app; Celery's on a real Celery app."""
    if app == COMPAT_APP:
        return ok("decorators", "a compat task on the compat app")
    if app == CELERY_APP:
        why = f"on a real celery.Celery app {_STAYS}"
    else:
        why = f"if the app is a real celery.Celery (the audit could not tell), {_STAYS}"
    return differs("the-app-stays-on-celery", why)


def app_class(app: AppKind) -> Rating:
    if app == COMPAT_APP:
        return ok("app", "the compat Celery app: its tasks are compat tasks")
    return differs(
        "the-app-stays-on-celery",
        "a real celery.Celery app: compat tasks follow it (broker, backend, routes); its "
        "@app.task stay Celery's until it moves",
    )


def send_task(app: AppKind) -> Rating:
    if app == COMPAT_APP:
        return differs(
            "send_task-needs-a-known-task-name",
            "a name unknown in the sending process raises NotRegistered (after importing the "
            "app's task modules) instead of sending a message nobody takes",
        )
    return differs(
        "send_task-needs-a-known-task-name",
        "Celery's own on a real celery.Celery app: a compat task sent by name runs on a "
        "Celery worker; call through the task or signature(name)",
    )


def register_task(app: AppKind) -> Rating:
    if app == COMPAT_APP:
        return ok("app", "a class-based task registered as a compat task")
    return class_task_on_celery()


def class_task_on_celery() -> Rating:
    return differs(
        "class-based-tasks",
        "a class-based task on Celery: register it on the compat app (app.register_task) or "
        "wrap_task(TheClass, app=app), else Celery's workers run it",
    )


_CELERY_QUEUES = differs(
    "queues-on-the-broker",
    "Celery's kombu connection, kept: compat calls wait in pynenc's queues (<app>.<queue>), "
    "so a backlog read through it counts only Celery's calls; pynenc's: "
    "broker.queue_depth(queue)",
)
_CELERY_WORKER = "starts Celery's own worker: run `pynenc-celery worker` (runners also run beat)"

#: ``app.<member>`` (a member absent here is "not known to the audit")
APP_MEMBERS: dict[str, tuple[str, Rating]] = {
    "config_from_object": (
        "app",
        ok("settings", "Celery's settings object reads it (Django's CELERY_ namespace too)"),
    ),
    "config_from_envvar": ("app", ok("settings", "Celery's settings object reads it")),
    "autodiscover_tasks": (
        "app",
        ok("app", "Celery's own, lazy: a runner imports the task modules before it serves"),
    ),
    "AsyncResult": (
        "results",
        ok("results", "answers for compat and Celery calls alike (by id, mixed apps)"),
    ),
    "GroupResult": ("results", ok("results", "the compat GroupResult")),
    "set_current": ("app", ok("app", "Celery's: shared tasks call through the current app")),
    "set_default": ("app", ok("app", "Celery's")),
    "finalize": ("app", ok("app", "Celery's: the compat tasks are bound to it")),
    "signature": ("canvas", ok("canvas", "a Signature by task name")),
    "close": ("app", ok("app", "Celery's")),
    "now": ("app", ok("app", "Celery's (the app's timezone)")),
    **{
        name: ("app", _CELERY_QUEUES)
        for name in (
            "connection",
            "broker_connection",
            "connection_or_acquire",
            "connection_for_write",
            "connection_for_read",
        )
    },
    "producer_or_acquire": (
        "app",
        ok("app", "Celery's kombu producer (compat calls do not use it)"),
    ),
    "producer_pool": ("app", ok("app", "Celery's kombu producers (compat calls do not use them)")),
    "current_worker_task": ("app", ok("app", "the task running in this thread, on a runner too")),
    "add_defaults": ("settings", ok("settings", "Celery's settings object reads them")),
    "worker_main": ("worker", no("worker", _CELERY_WORKER)),
    "start": ("worker", no("worker", "Celery's command line: run pynenc-celery")),
    "Worker": ("worker", no("worker", _CELERY_WORKER)),
    "WorkController": ("worker", no("worker", _CELERY_WORKER)),
    "Beat": ("beat", no("beat", "there is no beat process: the runners run beat_schedule")),
    "steps": (
        "worker",
        no("worker", "bootsteps extend Celery's worker, which a pynenc runner is not"),
    ),
    "user_options": (
        "worker",
        no("worker", "options of Celery's command line, which pynenc-celery does not read"),
    ),
    "backend": (
        "results",
        no("results", "Celery's result backend: compat calls are stored by pynenc"),
    ),
    "events": ("worker", no("worker", "no Celery events: pynenc status shows the work")),
}

#: app members that are values the scanner follows rather than uses to rate
APP_VALUES = frozenset(
    {"conf", "control", "tasks", "task", "send_task", "register_task", "add_periodic_task"}
    | {"on_after_configure", "on_after_finalize", "on_configure", "shared_task"}
    | {"main", "timezone", "Task", "loader", "log", "amqp", "pool", "oid", "thread_oid"}
    | {"namespace", "configured", "finalized", "clock"}
)


def pynenc_member(app: AppKind) -> Rating:
    """``app.pynenc``: the compat app's pynenc app; a real Celery app has none."""
    if app == CELERY_APP:
        return no(
            "app",
            "a real celery.Celery app has no .pynenc (AttributeError): use "
            "pynenc_celery_compat.bridge.pynenc_app_for(app)",
        )
    return ok("app", "the compat app's pynenc app (runners, triggers, status)")


def app_member(name: str) -> tuple[str, Rating]:
    return APP_MEMBERS.get(name) or ("app", unknown("app", f"app.{name}"))


APP_SIGNALS: dict[str, Rating] = {
    "on_after_configure": ok("app", "sent once the settings are read (add_periodic_task here)"),
    "on_after_finalize": ok("app", "sent when the app finalizes"),
    "on_configure": ok("app", "Celery's, sent when the app configures"),
}

# -- signals -----------------------------------------------------------------------------------

_WORKER_SENT = "sent by pynenc-celery's worker, as Celery's worker sends it"
_NOT_SENT = "never sent on pynenc: "
SIGNALS: dict[str, Rating] = {
    **{
        name: ok("signals", "sent by the runner around the task, with Celery's keywords")
        for name in ("task_prerun", "task_postrun", "task_success", "task_failure", "task_retry")
    },
    **{
        name: ok("signals", _WORKER_SENT)
        for name in (
            "worker_init",
            "worker_process_init",
            "worker_ready",
            "worker_shutdown",
            "worker_process_shutdown",
            "celeryd_init",
            "celeryd_after_setup",
        )
    },
    "import_modules": ok("signals", "sent by Celery's loader when a worker imports task modules"),
    "before_task_publish": differs(
        "publish-signals",
        "payloads as Celery's; changes to headers do not travel to the runner, and steps "
        "released later in a canvas are published without it",
    ),
    "after_task_publish": differs(
        "publish-signals", "sent after pynenc publishes; not for steps released later"
    ),
    "task_revoked": differs(
        "durable-revoke",
        "sent where a runner meets the revoked call; not for one revoked while it waits for "
        "its countdown (it never reaches a runner)",
    ),
    "task_received": no("signals", _NOT_SENT + "a runner claims calls, use task_prerun"),
    "task_rejected": no("signals", _NOT_SENT + "no Celery message is rejected"),
    "task_unknown": no("signals", _NOT_SENT + "runners take only the tasks they know"),
    "task_internal_error": no("signals", _NOT_SENT + "use task_failure"),
    "worker_shutting_down": no("signals", _NOT_SENT + "use worker_shutdown"),
    "worker_before_create_process": no("signals", _NOT_SENT + "no Celery pool"),
    "heartbeat_sent": no("signals", _NOT_SENT + "runners heartbeat in the state backend"),
    "beat_init": no("signals", _NOT_SENT + "there is no beat process"),
    "beat_embedded_init": no("signals", _NOT_SENT + "there is no beat process"),
    "task_sent": no("signals", _NOT_SENT + "deprecated by Celery: use after_task_publish"),
    "user_preload_options": no("signals", _NOT_SENT + "pynenc-celery has its own options"),
}
for _name in ("setup_logging", "after_setup_logger", "after_setup_task_logger"):
    SIGNALS[_name] = no(
        "signals",
        _NOT_SENT + "pynenc leaves logging to the process: configure it where the app is made",
    )
for _name in ("started", "preshutdown", "postshutdown", "apply"):
    SIGNALS[f"eventlet_pool_{_name}"] = no("signals", _NOT_SENT + "there is no eventlet pool")
for _name in ("test_worker_starting", "test_worker_started", "test_worker_stopped"):
    SIGNALS[_name] = ok("signals", "sent by the compat start_worker, as Celery's")


def signal(name: str) -> Rating:
    return SIGNALS.get(name) or unknown("signals", f"signal {name}")


# -- test tooling ------------------------------------------------------------------------------

_FIXTURE = "the compat plugin (pynenc_celery_compat.contrib.pytest) has it, on a pynenc worker"
PYTEST_FIXTURES: dict[str, Rating] = {
    name: ok("testing", _FIXTURE)
    for name in (
        "celery_app",
        "celery_worker",
        "celery_session_app",
        "celery_session_worker",
        "celery_config",
        "celery_parameters",
        "celery_includes",
        "celery_worker_pool",
        "celery_worker_parameters",
        "celery_enable_logging",
        "celery_class_tasks",
        "use_celery_app_trap",
        "depends_on_current_app",
    )
}

CELERY_PLUGIN = differs(
    "test-worker",
    "enable pynenc_celery_compat.contrib.pytest instead (the same fixtures, a pynenc worker); "
    "enable one of the two",
)
COMPAT_PLUGIN = ok("testing", "the compat pytest plugin")
START_WORKER = ok("testing", "the compat start_worker: Celery's signature, a pynenc worker")
CELERYS_START_WORKER = differs(
    "test-worker",
    "Celery's start_worker runs a Celery worker, which never runs compat tasks (their get() "
    "times out): import it from pynenc_celery_compat.contrib.testing.worker (migrate "
    "--include-tests moves it)",
)
CELERY_MARK = ok("testing", "overrides celery_config for one test, as Celery's")
PATCHED = ok("testing", "a compat task is a plain object: patching its methods works")
