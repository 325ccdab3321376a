"""What the audit knows of Celery's result API and remote control (see :mod:`.catalog`)."""

from __future__ import annotations

from pynenc_celery_compat.migration.catalog import Rating, differs, no, ok, unknown

# -- results -----------------------------------------------------------------------------------

_EXTENDED = "read from pynenc's record of the call (no result_extended needed)"
_GROUP_STORE = (
    "kept by the app's Celery result backend when it keeps groups, else by pynenc's state backend"
)

RESULT_MEMBERS: dict[str, Rating] = {
    name: ok("results", "read from pynenc's record of the call")
    for name in (
        "state",
        "status",
        "result",
        "info",
        "traceback",
        "ready",
        "successful",
        "failed",
        "id",
        "task_id",
        "parent",
        "children",
        "collect",
        "then",
        "maybe_throw",
        "iterdeps",
        "build_graph",
        "graph",
        "as_tuple",
        "ignored",
        "results",
        "completed_count",
        "waiting",
        "join",
        "join_native",
        "supports_native_join",
    )
}
RESULT_MEMBERS.update(
    {
        "get": ok("results", "waits for the call; woken when it ends, no polling"),
        "wait": ok("results", "waits for the call (get)"),
        "revoke": differs(
            "durable-revoke",
            "durable: stored by pynenc and seen by every runner (Celery: each worker's memory)",
        ),
        "forget": differs(
            "results-are-kept-until-purged",
            "drops the cached result only: pynenc keeps the record until purged",
        ),
        "exists": differs(
            "unambiguous-pending", "True from the call on: pynenc records a call when it is made"
        ),
        "backend": no(
            "results",
            "Celery's result backend: compat calls are stored by pynenc; use the result's "
            "own members",
        ),
        "save": ok("results", _GROUP_STORE),
        "restore": ok("results", _GROUP_STORE),
        "delete": ok("results", _GROUP_STORE),
    }
)
for _name in ("date_done", "name", "args", "kwargs", "worker", "retries", "queue"):
    RESULT_MEMBERS[_name] = ok("results", _EXTENDED)


def result_member(name: str) -> Rating:
    return RESULT_MEMBERS.get(name) or unknown("results", f"result.{name}")


_PROGRESS = (
    "accepted, never called: the waiter is woken once, at the end; read .state/.info for progress"
)
GET_OPTIONS: dict[str, Rating] = {
    "timeout": ok("results", "seconds to wait; TimeoutError (Celery's class) after"),
    "propagate": ok("results", "False returns the exception instead of raising it"),
    "follow_parents": ok("results", "raises the first failed step's error up the chain"),
    "callback": ok("results", "called with (id, value)"),
    "disable_sync_subtasks": ok(
        "results", "False allows waiting inside a task (the worker refuses it otherwise)"
    ),
    "interval": ok("results", "not needed: waiters are woken, nothing polls"),
    "no_ack": ok("results", "not needed: nothing to acknowledge"),
    "on_message": differs("get-options", _PROGRESS),
    "on_interval": differs("get-options", _PROGRESS),
    "EXCEPTION_STATES": differs("get-options", "accepted, not used: pynenc's states decide"),
    "PROPAGATE_STATES": differs("get-options", "accepted, not used: pynenc's states decide"),
}


def get_option(name: str) -> Rating:
    return GET_OPTIONS.get(name) or unknown("results", f"get option {name}=")


ALLOW_JOIN = ok("results", "allows get() inside a task, on a pynenc-celery worker as on Celery's")

GET_IN_TASK = differs(
    "get-inside-a-task",
    "a pynenc-celery worker refuses it (RuntimeError) as Celery's prefork pool does, unless "
    "disable_sync_subtasks=False or allow_join_result()",
)

_REMOTE = "Celery's remote control reaches Celery workers only: pynenc runners do not answer"
CONTROL: dict[str, Rating] = {
    "revoke": differs(
        "durable-revoke",
        "pynenc's cancel: durable, seen by every runner; unknown ids go to Celery's workers",
    ),
    "terminate": differs("durable-revoke", "revoke(terminate=True): pynenc's cancel"),
    "inspect": no("results", f"{_REMOTE}: pynenc-celery inspect, pynenc invocations"),
    "ping": no("results", f"{_REMOTE}: `pynenc runners` lists the live ones"),
    "rate_limit": no("results", f"{_REMOTE}: give the task rate_limit= (global on pynenc)"),
    "time_limit": no("results", f"{_REMOTE}: give the task time_limit=/soft_time_limit="),
    "purge": no("results", f"{_REMOTE}: `pynenc purge` drops pynenc's queued calls"),
    "add_consumer": no("results", f"{_REMOTE}: start a runner on the queue (-Q)"),
    "cancel_consumer": no("results", f"{_REMOTE}: start runners on the queues to consume"),
    "shutdown": no("results", f"{_REMOTE}: stop runners with SIGTERM"),
}
for _name in (
    "broadcast",
    "pool_grow",
    "pool_shrink",
    "pool_restart",
    "autoscale",
    "enable_events",
    "disable_events",
    "heartbeat",
    "election",
    "revoke_by_stamped_headers",
    "shutdown",
):
    CONTROL.setdefault(_name, no("results", _REMOTE))


def control(name: str) -> Rating:
    return CONTROL.get(name) or unknown("results", f"app.control.{name}")
