"""One test module for both task modules: the original (Celery) and the migrated (pynenc).

Written once against Celery's API, as a project's tests are, and run four ways: each
module in eager mode (a Django project's test settings) and on a real worker: Celery's test
worker for ``tasks_original``, a pynenc runner for ``tasks`` (the compat package's
``start_worker``, called as Celery's). Run it with
``python -m pytest samples/celery_migration_demo`` (``make test`` does).
"""

import difflib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from unittest import mock

import callers
import celery_app
import pytest
import tasks
import tasks_original
from celery.contrib.testing.worker import start_worker

from pynenc_celery_compat.contrib.testing import worker as pynenc_testing_worker

HERE = Path(__file__).resolve().parent
#: what ``CELERY_TASK_ALWAYS_EAGER`` and friends set in a Django project's test settings
EAGER_SETTINGS = {"task_always_eager": True, "task_store_eager_result": True}

DEPLOYMENTS = [
    pytest.param(("original", "eager"), id="original-eager"),
    pytest.param(("original", "worker"), id="original-celery-worker"),
    pytest.param(("migrated", "eager"), id="migrated-eager"),
    pytest.param(("migrated", "worker"), id="migrated-pynenc-runner"),
]


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def deployment(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The module under test and how its tasks run, set up once for the tests of a kind."""
    module, mode = request.param
    app = celery_app.app
    if mode == "eager":
        saved = {name: app.conf[name] for name in EAGER_SETTINGS}
        app.conf.update(EAGER_SETTINGS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # Celery's eager-result notes
            yield module, mode
        app.conf.update(saved)
    else:
        starter = start_worker if module == "original" else pynenc_testing_worker.start_worker
        with starter(app, pool="threads", perform_ping_check=False, loglevel="ERROR"):
            yield module, mode


@pytest.fixture
def shop(deployment: tuple[str, str]) -> ModuleType:
    """The task module of this run (what a project imports as ``shop.tasks``)."""
    return tasks_original if deployment[0] == "original" else tasks


def test_the_migration_is_one_import_line() -> None:
    original = (HERE / "tasks_original.py").read_text().splitlines()
    migrated = (HERE / "tasks.py").read_text().splitlines()
    changed = [
        line
        for line in difflib.unified_diff(original, migrated, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-from celery import current_task, shared_task",
        "+from pynenc_celery_compat import current_task, shared_task",
    ]


def test_delay_get_returns_the_value(shop: ModuleType) -> None:
    assert callers.welcome(shop, 8) == {
        "user_id": 8,
        "smtp": "250 queued for user-8@example.com",
        "attempts": 1,
    }


def test_a_bound_task_retries_itself_under_the_same_id(shop: ModuleType) -> None:
    result = shop.send_welcome_email.delay(7)  # the relay is busy once for odd ids
    assert result.get(timeout=callers.TIMEOUT) == {
        "user_id": 7,
        "smtp": "250 queued for user-7@example.com",
        "attempts": 2,
    }
    assert result.state == "SUCCESS"  # the retry kept the id the caller holds


def test_countdown_and_autoretry_backoff(shop: ModuleType, deployment: tuple[str, str]) -> None:
    started = time.monotonic()
    assert callers.avatar_later(shop, 7) == "https://cdn.example.com/avatars/7.png"
    if deployment[1] == "worker":  # eager mode ignores countdowns, as Celery's does
        assert time.monotonic() - started >= 1.0  # 0.2 s countdown + 1 s backoff


def test_a_task_calling_tasks_and_a_lookup_by_id(shop: ModuleType) -> None:
    assert callers.sign_up(shop, 21) == {
        "onboarded": 21,
        "email": {"user_id": 21, "smtp": "250 queued for user-21@example.com", "attempts": 2},
    }


def test_ignore_result_returns_none_and_the_task_still_runs(shop: ModuleType) -> None:
    assert callers.audited(shop, 5) == {"event": "signup", "user_id": 5, "source": "import"}


def test_exhausted_retries_reraise_the_tasks_exception(shop: ModuleType) -> None:
    assert callers.unreachable(shop) == {
        "raised": "MailServerBusy",
        "message": "421 relay busy, try user 13 later",
        "state": "FAILURE",
    }


def test_wrong_arguments_raise_type_error_at_call_time(shop: ModuleType) -> None:
    with pytest.raises(TypeError):
        shop.send_welcome_email.delay(1, 2)


def test_patching_delay_in_a_unit_test(shop: ModuleType) -> None:
    with (
        mock.patch.object(shop.send_welcome_email, "delay") as send,
        mock.patch.object(shop.record_signup_event, "delay") as record,
    ):
        send.return_value.id = "email-1"
        assert shop.onboard_user(3) == {"user_id": 3, "email_task_id": "email-1"}
    send.assert_called_once_with(3)
    record.assert_called_once_with(3, "web")
