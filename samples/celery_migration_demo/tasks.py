"""Account tasks of a small web shop, written for Celery.

``tasks.py`` is this module with one line changed: the import below.
"""

from pynenc_celery_compat import current_task, shared_task

#: what ``record_signup_event`` writes (a database table in a real project)
AUDIT_LOG: list[dict] = []


class MailServerBusy(Exception):
    """The mail relay asked us to come back later."""


def smtp_send(user_id: int, attempt: int) -> str:
    """A stand-in mail relay: busy at the first attempt for odd ids, always busy for 13."""
    if user_id == 13 or (user_id % 2 == 1 and attempt == 0):
        raise MailServerBusy(f"421 relay busy, try user {user_id} later")
    return f"250 queued for user-{user_id}@example.com"


@shared_task(bind=True, max_retries=3, default_retry_delay=5)
def send_welcome_email(self, user_id: int) -> dict:
    try:
        reply = smtp_send(user_id, self.request.retries)
    except MailServerBusy as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return {"user_id": user_id, "smtp": reply, "attempts": self.request.retries + 1}


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, retry_jitter=False)
def fetch_avatar(user_id: int) -> str:
    if current_task.request.retries == 0:  # the CDN drops the first connection
        raise ConnectionError("avatar CDN reset the connection")
    return f"https://cdn.example.com/avatars/{user_id}.png"


@shared_task(ignore_result=True)
def record_signup_event(user_id: int, source: str) -> None:
    AUDIT_LOG.append({"event": "signup", "user_id": user_id, "source": source})


@shared_task
def onboard_user(user_id: int, source: str = "web") -> dict:
    email = send_welcome_email.delay(user_id)
    record_signup_event.delay(user_id, source)
    return {"user_id": user_id, "email_task_id": email.id}
