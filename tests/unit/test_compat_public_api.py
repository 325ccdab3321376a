"""The Celery layer's public names, and pynenc's independence from Celery."""

import subprocess
import sys
from pathlib import Path

import pynenc_celery_compat

EXPECTED = {
    "AsyncResult",
    "Celery",
    "GroupResult",
    "Task",
    "current_app",
    "current_task",
    "exceptions",
    "shared_task",
    "signals",
    "signature",
    "states",
    "wrap_task",
    # canvas (celery's top-level canvas names)
    "Signature",
    "chain",
    "chord",
    "chunks",
    "group",
    "maybe_signature",
    "subtask",
    "xmap",
    "xstarmap",
    # periodic tasks (celery.schedules)
    "crontab",
    "schedule",
    "solar",
}


def test_all_lists_the_issue_names_and_each_exists() -> None:
    assert set(pynenc_celery_compat.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(pynenc_celery_compat, name) is not None


def test_the_canvas_names_are_celerys_and_importable_like_celery_canvas() -> None:
    import celery
    import celery.canvas

    from pynenc_celery_compat import canvas

    for name in celery.canvas.__all__:
        ours = getattr(canvas, name)
        assert getattr(pynenc_celery_compat, name) is ours
        if isinstance(ours, type):  # a subclass: isinstance checks written for Celery hold
            assert issubclass(ours, getattr(celery.canvas, name))
    assert {"maybe_subtask", "subtask", "maybe_unroll_group"} <= set(dir(canvas))


def test_the_package_is_not_re_pointed_at_celerys_folder() -> None:
    # Celery's __all__ lists __file__/__path__/__package__: a star import would re-point them
    here = Path(pynenc_celery_compat.__file__).parent
    assert here.name == "pynenc_celery_compat"
    assert list(pynenc_celery_compat.__path__) == [str(here)]
    assert pynenc_celery_compat.__package__ == "pynenc_celery_compat"


def test_importing_pynenc_never_imports_celery() -> None:
    # (kombu imports billiard, Celery's process library, itself: only Celery counts)
    code = (
        "import sys, pynenc, pynenc.cli.main, pynenc.testing\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('celery', 'pynenc_celery_compat'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
