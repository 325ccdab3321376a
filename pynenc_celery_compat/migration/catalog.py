"""What the audit knows: each Celery API rated against ``pynenc_celery_compat``.

A :class:`Rating` is supported / supported with a difference / not supported, with a
one-line reason (what differs, or what to do instead) and the guide's section: a
``migration_guide/mapping.md`` section for what is supported or not, the
``migration_guide/differences.md`` heading of the difference otherwise. The ratings follow
``docs/celery.md`` (the compat layer's own description) and the compat code; a name the
tables do not hold is rated by :func:`unknown` ("not known to the audit"), never passed
silently. Settings and beat entries are rated in :mod:`.catalog_settings`, imported names
in :mod:`.catalog_names`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynenc_celery_compat import calling
from pynenc_celery_compat.migration.audit import Support

GUIDE = "migration_guide/"
MAPPING = GUIDE + "mapping.md#"
DIFFERENCES = GUIDE + "differences.md#"

#: mapping.md's sections, by the audit's feature names
SECTIONS = {
    "imports": MAPPING + "imports",
    "app": MAPPING + "the-app",
    "decorators": MAPPING + "decorator-options",
    "calling": MAPPING + "calling-options",
    "results": MAPPING + "result-api",
    "states": MAPPING + "states",
    "settings": MAPPING + "settings",
    "canvas": MAPPING + "canvas",
    "beat": MAPPING + "beat",
    "signals": MAPPING + "signals",
    "worker": MAPPING + "worker-flags",
    "testing": MAPPING + "test-tooling",
}


@dataclass(frozen=True)
class Rating:
    """How the compat layer covers one use, why, and where the guide says more."""

    support: Support
    reason: str
    section: str


def ok(feature: str, reason: str) -> Rating:
    return Rating(Support.SUPPORTED, reason, SECTIONS[feature])


#: the headings of ``migration_guide/differences.md`` the audit links to (GitHub anchors)
DIFFERENCE_ANCHORS = frozenset(
    {
        "a-failed-step-fails-the-rest-of-the-canvas-at-once",
        "a-result-backend-pynenc-can-share-is-required",
        "a-task-id-runs-once",
        "beat-without-a-beat-process",
        "broker-options",
        "canvas-steps-carry-no-canvas-in-their-request",
        "class-based-tasks",
        "custom-serializers",
        "django-celery-beat",
        "durable-revoke",
        "get-inside-a-task",
        "get-options",
        "global-rate-limits",
        "green-thread-pools",
        "ignore_result-still-records-the-outcome",
        "intervals-keep-a-fixed-grid",
        "logging",
        "options-only-celery-reads",
        "per-call-time-limits-and-serializer-are-not-applied",
        "priorities",
        "publish-signals",
        "queues-on-the-broker",
        "recovery-of-a-dead-workers-tasks",
        "request-fields",
        "results-are-kept-until-purged",
        "retry-options",
        "send_task-needs-a-known-task-name",
        "settings-that-do-not-apply",
        "test-worker",
        "the-app-stays-on-celery",
        "time-limits",
        "unambiguous-pending",
    }
)


def differs(anchor: str, reason: str) -> Rating:
    """Supported with a difference, explained under ``differences.md#anchor`` (one of
    :data:`DIFFERENCE_ANCHORS`)."""
    if anchor not in DIFFERENCE_ANCHORS:
        raise ValueError(f"differences.md has no heading {anchor!r} in DIFFERENCE_ANCHORS")
    return Rating(Support.DIFFERENCE, reason, DIFFERENCES + anchor)


def sections() -> frozenset[str]:
    """Every guide section the audit can link to."""
    return frozenset(SECTIONS.values()) | {DIFFERENCES + anchor for anchor in DIFFERENCE_ANCHORS}


def no(feature: str, reason: str) -> Rating:
    return Rating(Support.UNSUPPORTED, reason, SECTIONS[feature])


def unknown(feature: str, what: str) -> Rating:
    """A Celery API the audit has no entry for: reported, not passed over."""
    return no(feature, f"not known to the audit: check {what} by hand (docs/celery.md)")


# -- decorator options (and the same names as class attributes of a Task class) -------------

_WITHOUT_EFFECT = "an attribute read by Celery's eager path only: no effect on a runner"
_LOST_WORKERS = (
    "accepted, no effect: pynenc re-runs the work of a runner that died (bounded by "
    "runner.max_reroutes), which is what it asks Celery for"
)

TASK_OPTIONS: dict[str, Rating] = {
    "name": ok("decorators", "the task's name (pynenc task key); default module.function"),
    "bind": ok("decorators", "the first argument is the task: self.request, self.retry, …"),
    "base": ok(
        "decorators",
        "your celery.Task subclass, combined with the compat class (its hooks run on the "
        "runner with Celery's arguments)",
    ),
    "max_retries": ok("decorators", "retries self.retry() and autoretry allow (None: forever)"),
    "default_retry_delay": ok("decorators", "seconds before a retry given no countdown/eta"),
    "time_limit": differs(
        "time-limits",
        "pynenc timeout: a process runner kills the attempt, a thread runner gives up on it "
        "(the thread runs on); the waiter gets TimeLimitExceeded",
    ),
    "soft_time_limit": differs(
        "time-limits",
        "SoftTimeLimitExceeded by a signal on process runners, at checkpoint() on thread "
        "runners; equal to time_limit, only the hard limit is kept",
    ),
    "rate_limit": differs(
        "global-rate-limits", "enforced across all runners together (Celery: per worker)"
    ),
    "queue": ok("decorators", "the pynenc task queue; runners consume their tasks' queues"),
    "priority": differs(
        "priorities", "0-9, higher first on every broker (Celery on Redis: lower first)"
    ),
    "ignore_result": differs(
        "ignore_result-still-records-the-outcome",
        "get() returns None at once; pynenc still records the outcome",
    ),
    "typing": ok("decorators", "arguments are checked at call time (TypeError), as Celery"),
    "throws": ok("decorators", "expected errors: FAILURE, logged at INFO without traceback"),
    "track_started": ok("decorators", "state STARTED while the task runs"),
    "expires": ok("decorators", "the expiry of each call made without expires="),
    "serializer": ok(
        "decorators", "pynenc's task serializer; the app must accept it (accept_content)"
    ),
    "trail": ok("decorators", "as Celery: False leaves the calls a task makes out of its children"),
    "pydantic": no(
        "decorators",
        "pydantic=True is refused (NotImplementedError): pass plain JSON values, or route the "
        "task to Celery (pynenc_celery_tasks)",
    ),
}
for _name in ("autoretry_for", "dont_autoretry_for", "retry_kwargs", "retry_backoff"):
    TASK_OPTIONS[_name] = ok(
        "decorators", "Celery's autoretry; its countdown is the delay of pynenc's retry"
    )
for _name in ("retry_backoff_max", "retry_jitter"):
    TASK_OPTIONS[_name] = ok("decorators", "Celery's backoff formula, on pynenc's retry")
for _name in ("acks_late", "reject_on_worker_lost", "retry_on_worker_lost"):
    TASK_OPTIONS[_name] = differs("recovery-of-a-dead-workers-tasks", _LOST_WORKERS)
TASK_OPTIONS["acks_on_failure_or_timeout"] = differs(
    "recovery-of-a-dead-workers-tasks",
    "accepted, no effect: a failed or timed-out call is FAILURE, never put back in the queue",
)
for _name in (
    "store_errors_even_if_ignored",
    "store_eager_result",
    "resultrepr_maxsize",
    "shadow_name",
    "abstract",
):
    TASK_OPTIONS[_name] = differs("options-only-celery-reads", _WITHOUT_EFFECT)
for _name in ("on_failure", "on_success", "on_retry", "after_return", "before_start"):
    TASK_OPTIONS[_name] = ok("decorators", "a hook, called on the runner with Celery's arguments")
TASK_OPTIONS["__call__"] = ok("decorators", "wraps every run; super().__call__ keeps the request")
TASK_OPTIONS["run"] = ok("decorators", "the body of a class-based task")

#: any other keyword
OTHER_TASK_OPTION = ok("decorators", "kept as a class attribute of the task, as Celery does")


#: options spread from a value the audit cannot read (``**options`` of a parameter)
UNREAD_OPTIONS = {
    feature: no(
        feature,
        f"not known to the audit: options spread from a value made at run time; check each "
        f"against {where} by hand",
    )
    for feature, where in (
        ("decorators", "mapping.md#decorator-options"),
        ("calling", "mapping.md#calling-options"),
    )
}


def task_option(name: str, value_is_true: bool | None = None) -> Rating:
    """A decorator option (``value_is_true``: the literal value's truth, when known)."""
    if name == "pydantic" and value_is_true is False:
        return ok("decorators", "pydantic=False: plain arguments")
    return TASK_OPTIONS.get(name, OTHER_TASK_OPTION)


# -- calling -----------------------------------------------------------------------------------

_BROKER = "a broker detail of Celery's: accepted, warned about once, not used"

CALL_OPTIONS: dict[str, Rating] = {
    "args": ok("calling", "positional arguments"),
    "kwargs": ok("calling", "keyword arguments"),
    "countdown": ok(
        "calling", "kept by pynenc's scheduler: no visibility timeout, no duplicate runs"
    ),
    "eta": ok("calling", "the time from which it may run (naive: UTC)"),
    "expires": ok("calling", "not started by then, it never runs (REVOKED)"),
    "task_id": differs(
        "a-task-id-runs-once",
        "a second call with the same id returns that call, it does not run twice; with other "
        "arguments it is refused (InvocationConflictError, a ValueError)",
    ),
    "queue": ok("calling", "this call's queue (a runner must consume it)"),
    "priority": differs("priorities", "0-9, higher first on every broker"),
    "ignore_result": differs(
        "ignore_result-still-records-the-outcome",
        "get() returns None at once; pynenc still records the outcome",
    ),
    "headers": ok("calling", "carried to the task: self.request.headers"),
    "retries": ok("calling", "the call's self.request.retries starts there"),
    "link": ok("canvas", "a callback step released by this call's success"),
    "link_error": ok("canvas", "an error callback released by this call's failure"),
    "add_to_parent": ok("calling", "False keeps the call out of the caller's children"),
    "chain": ok("canvas", "the rest of a chain Celery's own chain class sends"),
    "reply_to": ok("calling", "set by Celery's canvas code: ignored"),
    "group_id": ok("calling", "set by Celery's canvas code: ignored"),
    "group_index": ok("calling", "set by Celery's canvas code: ignored"),
    "chord": no(
        "canvas",
        "a member of Celery's own chord: NotImplementedError; import chord from "
        "pynenc_celery_compat",
    ),
    "shadow": differs("broker-options", "ignored: the call runs and logs under its task's name"),
}
for _name in ("time_limit", "soft_time_limit", "serializer"):
    CALL_OPTIONS[_name] = differs(
        "per-call-time-limits-and-serializer-are-not-applied",
        f"not per call: pynenc's {_name} is the task's; warned about once",
    )
# the options the compat layer's apply_async takes and leaves to the broker (its own list)
for _name in sorted(calling.BROKER_ONLY - {"time_limit", "soft_time_limit", "serializer"}):
    CALL_OPTIONS[_name] = differs("broker-options", _BROKER)


def call_option(name: str) -> Rating:
    return CALL_OPTIONS.get(name) or unknown("calling", f"apply_async option {name}=")


#: methods of a task object (``t.delay(...)``), with their feature
TASK_METHODS: dict[str, tuple[str, Rating]] = {
    "delay": ("calling", ok("calling", "registers and publishes a pynenc call: AsyncResult")),
    "apply_async": (
        "calling",
        ok("calling", "registers and publishes a pynenc call with Celery's options"),
    ),
    "apply": ("calling", ok("calling", "Celery's tracer, here and now: an EagerResult")),
    "s": ("canvas", ok("canvas", "a Signature: new positional arguments go first")),
    "si": ("canvas", ok("canvas", "an immutable Signature")),
    "signature": ("canvas", ok("canvas", "a Signature")),
    "subtask": ("canvas", ok("canvas", "a Signature")),
    "map": ("canvas", ok("canvas", "one celery.map call running the task over the items")),
    "starmap": ("canvas", ok("canvas", "one celery.starmap call over the items")),
    "chunks": ("canvas", ok("canvas", "a group of one starmap call per part")),
    "AsyncResult": ("results", ok("results", "the result of a call of this task, by id")),
    "get_logger": (
        "calling",
        differs(
            "logging",
            "Celery's task logger, kept: a runner leaves log formatting to the process (no "
            "task name/id added to lines)",
        ),
    ),
    "delay_on_commit": ("calling", ok("calling", "sent on Django's transaction.on_commit")),
    "apply_async_on_commit": (
        "calling",
        ok("calling", "sent on Django's transaction.on_commit"),
    ),
}

#: members of a running task (``self`` of a bound task, ``current_task``)
SELF_MEMBERS: dict[str, tuple[str, Rating]] = {
    "retry": (
        "calling",
        ok("calling", "pynenc's retry of the same call (same id, retries + 1)"),
    ),
    "update_state": ("results", ok("results", "a custom state and meta, shown while it runs")),
    "replace": (
        "canvas",
        no(
            "canvas",
            "refused on a runner (NotImplementedError): run the canvas and wait for it, build "
            "it where the task is sent, or switch the task back to Celery",
        ),
    ),
    "backend": (
        "results",
        no(
            "results",
            "Celery's result backend: pynenc stores compat calls in its state backend; use "
            "self.AsyncResult(id) or self.update_state",
        ),
    ),
    "send_event": ("worker", no("worker", "no Celery events: pynenc status shows the work")),
}

RETRY_OPTIONS: dict[str, Rating] = {
    name: ok("calling", "as Celery's retry()")
    for name in ("exc", "countdown", "eta", "max_retries", "args", "kwargs")
}
#: ``retry(throw=True)`` written out: the default, as Celery's
RETRY_THROWN = ok("calling", "as Celery's retry(): raises Retry, the same call runs again")
RETRY_OPTIONS["throw"] = differs(
    "retry-options",
    "throw=False sends the retry as a new call of the task (a new id, retries + 1); the "
    "current run goes on, as in Celery",
)


def retry_option(name: str) -> Rating:
    if name in RETRY_OPTIONS:
        return RETRY_OPTIONS[name]
    if name in CALL_OPTIONS:
        return differs(
            "retry-options",
            "not applied to a retry of the same call (throw=False: applied to its new call)",
        )
    return unknown("calling", f"retry option {name}=")


REQUEST_FIELDS: dict[str, Rating] = {
    name: ok("calling", "filled on the runner as a Celery worker fills it")
    for name in (
        "id",
        "task",
        "retries",
        "is_eager",
        "called_directly",
        "parent_id",
        "root_id",
        "eta",
        "expires",
        "headers",
        "timelimit",
        "ignore_result",
        "correlation_id",
        "delivery_info",
        "group",
        "group_index",
        "properties",
        "lang",
        "argsrepr",
        "kwargsrepr",
        "stamps",
        "get",
        "utc",
    )
}
REQUEST_FIELDS.update(
    {
        "args": differs(
            "request-fields", "bound by parameter name: a keyword for a positional shows here"
        ),
        "kwargs": differs(
            "request-fields", "bound by parameter name: a keyword for a positional is in args"
        ),
        "hostname": differs("request-fields", "pynenc@<host> (the runner's host)"),
        "reply_to": differs("request-fields", "None on a runner (pynenc keeps no reply queue)"),
        "origin": differs("request-fields", "None on a runner"),
        "shadow": differs("request-fields", "None: a call runs under its task's name"),
    }
)
for _name in ("chain", "chord", "callbacks", "errbacks"):
    REQUEST_FIELDS[_name] = differs(
        "canvas-steps-carry-no-canvas-in-their-request",
        "None in a canvas step: pynenc keeps the canvas in its state backend",
    )


def request_field(name: str) -> Rating:
    return REQUEST_FIELDS.get(name) or unknown("calling", f"self.request.{name}")


# -- canvas ------------------------------------------------------------------------------------

CANVAS: dict[str, Rating] = {
    "group": ok("canvas", "members registered together; GroupResult.get() in order"),
    "chain": ok("canvas", "steps released one by one, each result given to the next"),
    "chord": differs(
        "a-failed-step-fails-the-rest-of-the-canvas-at-once",
        "no chord_unlock, no polling; a failing member fails the body at once (Celery waits "
        "for every member)",
    ),
    "chunks": ok("canvas", "a group of one starmap call per part"),
    "xmap": ok("canvas", "one celery.map call"),
    "xstarmap": ok("canvas", "one celery.starmap call"),
    "signature": ok("canvas", "a Signature (by task or by name)"),
    "Signature": ok("canvas", "a Signature"),
    "subtask": ok("canvas", "a Signature"),
    "maybe_signature": ok("canvas", "a Signature from a dict"),
    "|": ok("canvas", "a chain (group | task: a chord) on pynenc's composition"),
    "link": ok("canvas", "a callback step released by success"),
    "link_error": ok("canvas", "an error callback released by failure"),
    "on_error": ok("canvas", "an error callback released by failure"),
    "set": ok("canvas", "options of the step (rated one by one)"),
    "clone": ok("canvas", "a copy of the Signature"),
    "freeze": ok("canvas", "the id the run will use"),
    "group()": ok("canvas", "chunks as a group"),
}
