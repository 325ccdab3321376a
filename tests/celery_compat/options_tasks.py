"""The options tests' tasks, declared with the same options on a real Celery app
(``CELERY``) and on a compat app (``COMPAT``).

``pynenc_app`` is the compat app's pynenc app at module level, so a process runner's
children import it by reference (``tests.celery_compat.options_tasks:pynenc_app``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import celery

from pynenc_celery_compat import Celery
from tests.celery_compat import options_bodies as bodies

# not the current app: other modules' shared tasks follow the current app
_SETTINGS = {"broker": "memory://", "backend": "cache+memory://", "set_as_current": False}
celery_app = celery.Celery("options_celery", **_SETTINGS)
compat_app = Celery("options_compat", **_SETTINGS)
for _app in (celery_app, compat_app):
    _app.conf.accept_content = ["json", "pickle"]  # options.pickled takes a callable


def declare(app: Any) -> SimpleNamespace:
    """Every task of the options tests on ``app`` (each with the options under test)."""

    class ContextTask(app.Task):  # type: ignore[name-defined,misc]
        """Flask's pattern: a base whose ``__call__`` sets a context around each run."""

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            bodies.SEEN["context"] = "entered"
            try:
                return super().__call__(*args, **kwargs)
            finally:
                bodies.SEEN.pop("context", None)

    task = app.task
    return SimpleNamespace(
        app=app,
        add=task(bodies.add),
        double=task(bodies.double),
        request_fields=task(bind=True, name="options.request_fields")(bodies.request_fields),
        flaky_forever=task(bind=True, max_retries=None, name="options.flaky_forever")(
            bodies.flaky_forever
        ),
        backoff=task(
            autoretry_for=(KeyError,),
            retry_backoff=True,
            retry_jitter=False,
            max_retries=2,
            name="options.backoff",
        )(bodies.always_key_error),
        untyped=task(typing=False, name="options.untyped")(bodies.add),
        expected=task(throws=(LookupError,), name="options.expected")(bodies.expected_failure),
        ignored=task(ignore_result=True, name="options.ignored")(bodies.add),
        started=task(track_started=True, name="options.started")(bodies.gated),
        soft_limited=task(soft_time_limit=0.5, name="options.soft_limited")(bodies.soft_limited),
        hard_limited=task(time_limit=0.5, name="options.hard_limited")(bodies.hard_limited),
        in_context=task(bind=True, base=ContextTask, name="options.in_context")(bodies.in_context),
        pickled=task(serializer="pickle", name="options.pickled")(bodies.apply_function),
    )


CELERY = declare(celery_app)
COMPAT = declare(compat_app)
pynenc_app = compat_app.pynenc
