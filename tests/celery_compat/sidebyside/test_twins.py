"""The two task modules are one text: they differ only in the import lines."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
NAMES = "Celery, Task, current_task, exceptions, shared_task"
IMPORTS = {
    "tasks_celery.py": f"from celery import {NAMES}",
    "tasks_compat.py": f"from pynenc_celery_compat import {NAMES}",
}


def _without_import(name: str) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    assert lines.count(IMPORTS[name]) == 1, f"{name} must import with {IMPORTS[name]!r}"
    return [line for line in lines if line != IMPORTS[name]]


def test_the_flavours_differ_only_in_the_import() -> None:
    celery, compat = _without_import("tasks_celery.py"), _without_import("tasks_compat.py")
    different = [(a, b) for a, b in zip(celery, compat, strict=False) if a != b]
    assert not different, f"copy tasks_celery.py over tasks_compat.py: {different[:3]}"
    assert len(celery) == len(compat)


def test_neither_imports_the_other_side() -> None:
    assert "pynenc" not in "\n".join(_without_import("tasks_celery.py"))
    assert "pynenc" not in "\n".join(_without_import("tasks_compat.py"))
