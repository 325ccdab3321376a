"""``pynenc-celery inspect registered`` and the worker banner list the tasks a pynenc worker
runs: the compat tasks, not the Celery tasks of modules not migrated yet."""

from __future__ import annotations

from click.testing import CliRunner

from pynenc_celery_compat.cli import cli
from tests.celery_compat import qa_celery_tasks as tasks


def test_inspect_registered_lists_the_compat_tasks_only() -> None:
    out = CliRunner().invoke(
        cli, ["-A", "tests.celery_compat.qa_celery_app", "inspect", "registered"]
    )
    assert out.exit_code == 0, out.output
    assert f"  * {tasks.qa_flaky.name}" in out.output
    assert "qa_celery.still_on_celery" not in out.output
