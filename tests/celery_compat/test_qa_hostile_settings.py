"""Settings written carelessly: a string where Celery wants a bool."""

from __future__ import annotations

import pytest

from pynenc_celery_compat import Celery
from pynenc_celery_compat.exceptions import ImproperlyConfigured


@pytest.mark.parametrize("value", ["False", "0", "True"])
def test_task_always_eager_given_as_a_string_is_refused(value: str) -> None:
    # CELERY_TASK_ALWAYS_EAGER = os.environ.get("EAGER", "False"): Celery reads the
    # string as true and runs every call inline in the web process; here it is refused
    app = Celery("qa_hostile_settings", set_as_current=False)
    app.config_from_object({"CELERY_TASK_ALWAYS_EAGER": value}, namespace="CELERY")

    @app.task
    def noop() -> None:
        return None

    with pytest.raises(ImproperlyConfigured, match=r"task_always_eager.*string.*True or False"):
        noop.delay()
