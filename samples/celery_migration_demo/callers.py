"""The project's callers (a web view, a management command): not touched by the migration.

In a project they would ``from shop.tasks import ...``; here the tasks module is a
parameter, so that one copy of this code drives both ``tasks_original`` (Celery) and
``tasks`` (pynenc).
"""

import time
from types import ModuleType
from typing import Any

TIMEOUT = 30


def welcome(tasks: ModuleType, user_id: int) -> dict:
    """``delay().get()``: the relay is busy once for odd ids, so the task retries itself."""
    return tasks.send_welcome_email.delay(user_id).get(timeout=TIMEOUT)


def avatar_later(tasks: ModuleType, user_id: int, countdown: float = 0.2) -> str:
    """``apply_async(countdown=…)``; the task retries on ``ConnectionError`` by itself."""
    return tasks.fetch_avatar.apply_async((user_id,), countdown=countdown).get(timeout=TIMEOUT)


def sign_up(tasks: ModuleType, user_id: int) -> dict:
    """A task that calls other tasks; its result carries an id looked up later."""
    summary = tasks.onboard_user.delay(user_id, source="web").get(timeout=TIMEOUT)
    email = tasks.send_welcome_email.AsyncResult(summary["email_task_id"])
    return {"onboarded": summary["user_id"], "email": email.get(timeout=TIMEOUT)}


def audited(tasks: ModuleType, user_id: int) -> dict | None:
    """An ``ignore_result`` task: ``get()`` is ``None`` at once; its effect shows later."""
    result = tasks.record_signup_event.delay(user_id, "import")
    if result.get(timeout=TIMEOUT) is not None:
        raise AssertionError("an ignore_result task returned a value")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for entry in tasks.AUDIT_LOG:
            if entry["user_id"] == user_id and entry["source"] == "import":
                return entry
        time.sleep(0.01)
    return None


def unreachable(tasks: ModuleType, user_id: int = 13) -> dict[str, Any]:
    """Retries run out: ``get()`` re-raises the task's own exception class."""
    result = tasks.send_welcome_email.delay(user_id)
    try:
        result.get(timeout=TIMEOUT)
    except tasks.MailServerBusy as exc:
        return {"raised": type(exc).__name__, "message": str(exc), "state": result.state}
    raise AssertionError("the mail relay never gave up")


def every_call(tasks: ModuleType) -> dict[str, Any]:
    """Each caller above once, by name (what ``main.py`` prints side by side)."""
    return {
        "send_welcome_email.delay(8).get()": welcome(tasks, 8),
        "send_welcome_email.delay(7).get()": welcome(tasks, 7),
        "fetch_avatar.apply_async((7,), countdown=0.2).get()": avatar_later(tasks, 7),
        "onboard_user.delay(21) + AsyncResult(id).get()": sign_up(tasks, 21),
        "record_signup_event.delay(5).get() (ignore_result)": audited(tasks, 5),
        "send_welcome_email.delay(13): retries exhausted": unreachable(tasks),
    }
