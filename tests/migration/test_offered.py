"""What the migration tools take as the compat layer's offer of each Celery module."""

import importlib

import pytest

from pynenc_celery_compat.migration.offered import (
    CELERY_TO_COMPAT,
    compat_module_for,
    offered,
)


@pytest.mark.parametrize("celery_module", sorted(CELERY_TO_COMPAT))
def test_every_offered_name_is_importable_from_both_sides(celery_module: str) -> None:
    compat = CELERY_TO_COMPAT[celery_module]
    celery_side = importlib.import_module(celery_module)
    compat_side = importlib.import_module(compat)
    for name in offered(celery_module):
        assert hasattr(compat_side, name), f"{compat}.{name}"
        # a name moved by the rewrite must be one Celery's module has: a rewrite never
        # produces an import of something the original code could not have imported
        assert hasattr(celery_side, name), f"{celery_module}.{name} is not Celery's"


def test_the_app_class_stays_on_celery_unless_asked() -> None:
    assert compat_module_for("celery", "Celery") is None
    assert compat_module_for("celery", "Celery", include_app=True) == "pynenc_celery_compat"


def test_names_and_modules_not_offered_stay() -> None:
    assert compat_module_for("celery", "shared_task") == "pynenc_celery_compat"
    assert compat_module_for("celery.canvas", "subtask") == "pynenc_celery_compat.canvas"
    assert compat_module_for("celery.result", "ResultSet") is None
    assert compat_module_for("celery.utils.log", "get_task_logger") is None
    assert compat_module_for("celery.contrib.pytest", "os") is None


def test_compat_only_names_are_never_offered() -> None:
    assert "wrap_task" not in offered("celery")
    assert "crontab" not in offered("celery")  # compat's root has it; Celery's root has not


def test_exception_classes_compat_subclasses_stay_on_celery() -> None:
    from pynenc_celery_compat.migration.offered import CATCHES_BOTH, why_kept

    # `except celery.exceptions.TimeoutError` catches a Celery task's timeout and a compat
    # call's (a subclass): moving it would miss Celery's while modules migrate
    for name in ("TimeoutError", "TaskRevokedError", "SoftTimeLimitExceeded", "TimeLimitExceeded"):
        assert compat_module_for("celery.exceptions", name) is None
        assert why_kept("celery.exceptions", name, app_reason="", default="") == CATCHES_BOTH
    # the ones compat re-exports as Celery's own objects move (nothing changes for them)
    assert compat_module_for("celery.exceptions", "Retry") == "pynenc_celery_compat.exceptions"
