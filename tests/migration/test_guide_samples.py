"""``migration_guide/samples.md`` is what the migrate tool makes of the sample modules.

The page is generated (``make guide``, ``migration_guide/generate_samples.py``); these tests
fail when it is stale, or when a checked-in migrated sample is not what the tool produces.
While the migrate tool is still a stub (``migrate_source`` raising ``NotImplementedError``)
the tests that need it are skipped, saying so; the page's rendering is tested without it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pynenc_celery_compat.migration.rewrite import Kept, Moved, Rewrite

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "migration_guide" / "generate_samples.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_samples", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


generate = _load()
MISSING = generate.tool_missing()
needs_tool = pytest.mark.skipif(
    MISSING is not None, reason=f"the migrate tool is not there yet: {MISSING}"
)


@needs_tool
def test_samples_md_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


@needs_tool
def test_a_drifted_sample_fails_naming_the_file(tmp_path: Path) -> None:
    demo = tmp_path / "samples" / "celery_migration_demo"
    demo.mkdir(parents=True)
    for name in ("tasks_original.py", "tasks.py"):
        shutil.copy(ROOT / generate.DEMO / name, demo / name)
    migrated = demo / "tasks.py"
    migrated.write_text(
        migrated.read_text(encoding="utf-8").replace("def fetch_avatar", "def fetch_avatars"),
        encoding="utf-8",
    )
    with pytest.raises(generate.SampleError, match=r"tasks\.py is not what"):
        generate.build_page(tmp_path)


@needs_tool
def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    demo = tmp_path / "samples" / "celery_migration_demo"
    demo.mkdir(parents=True)
    for name in ("tasks_original.py", "tasks.py"):
        shutil.copy(ROOT / generate.DEMO / name, demo / name)
    (tmp_path / "migration_guide").mkdir()
    assert generate.main(["--root", str(tmp_path), "--check"]) == generate.EXIT_STALE
    assert generate.main(["--root", str(tmp_path)]) == 0
    assert generate.main(["--root", str(tmp_path), "--check"]) == 0


def test_project_copies_pair_file_by_file(tmp_path: Path) -> None:
    demo = tmp_path / generate.DEMO
    for tree in ("shop_original", "shop", "original/blog", "blog"):
        (demo / tree / "pkg").mkdir(parents=True)
        (demo / tree / "pkg" / "tasks.py").write_text("", encoding="utf-8")
    for name in ("tasks_original.py", "tasks.py"):
        (demo / name).write_text("", encoding="utf-8")
    pairs = [
        (p.original.as_posix(), p.migrated.as_posix()) for p in generate.discover_pairs(tmp_path)
    ]
    base = generate.DEMO.as_posix()
    assert pairs == [
        (f"{base}/tasks_original.py", f"{base}/tasks.py"),
        (f"{base}/original/blog/pkg/tasks.py", f"{base}/blog/pkg/tasks.py"),
        (f"{base}/shop_original/pkg/tasks.py", f"{base}/shop/pkg/tasks.py"),
    ]


def test_a_missing_migrated_module_is_named(tmp_path: Path) -> None:
    demo = tmp_path / generate.DEMO
    (demo / "shop_original").mkdir(parents=True)
    (demo / "shop").mkdir()
    (demo / "shop_original" / "tasks.py").write_text("", encoding="utf-8")
    for name in ("tasks_original.py", "tasks.py"):
        (demo / name).write_text("", encoding="utf-8")
    with pytest.raises(generate.SampleError, match=r"shop/tasks.py: missing"):
        generate.discover_pairs(tmp_path)


ORIGINAL = """\
'''Tasks.'''

from celery import Celery, shared_task
x = 1 < 2 and "a" & "b"

app = Celery("demo")


@shared_task
def add(x, y):
    return x + y
"""
MIGRATED = ORIGINAL.replace(
    "from celery import Celery, shared_task\n",
    "from celery import Celery\nfrom pynenc_celery_compat import shared_task\n",
)


def _module() -> Any:
    rewrite = Rewrite(
        "pkg/tasks.py",
        ORIGINAL,
        MIGRATED,
        moved=(Moved(3, "celery", "shared_task", "pynenc_celery_compat"),),
        kept=(Kept(3, "celery", "Celery", "the app class stays on Celery during the rollout"),),
    )
    pair = generate.Pair(Path("pkg/tasks_original.py"), Path("pkg/tasks.py"))
    return generate.Module(pair, rewrite, "--- a\n+++ b\n@@ -3 +3,2 @@\n", "")


def test_the_page_has_a_diff_and_a_side_by_side_table() -> None:
    page = generate.render([_module()])
    assert "## `pkg/tasks.py`" in page
    assert "| [`pkg/tasks.py`](#pkgtaskspy) |" in page
    assert "`shared_task` from `celery` to `pynenc_celery_compat`" in page
    assert "`Celery` (`celery`: the app class stays on Celery during the rollout)" in page
    assert "```diff\n--- a\n+++ b\n@@ -3 +3,2 @@\n```" in page
    table = page[page.index("<table>") : page.index("</table>")]
    # one HTML block: a blank line would end it and the rest would render as Markdown
    assert all(line.strip() for line in table.splitlines())
    assert "<b> 3 - from celery import Celery, shared_task</b>" in table
    assert "<b> 3 + from celery import Celery</b>" in table
    assert "<b> 4 + from pynenc_celery_compat import shared_task</b>" in table
    assert "1 &lt; 2 and &quot;a&quot; &amp; &quot;b&quot;" not in table  # quotes stay
    assert '1 &lt; 2 and "a" &amp; "b"' in table  # two lines of context after the change
    assert "def add" not in table  # beyond the context


def test_a_diff_holding_backticks_gets_a_longer_fence() -> None:
    module = _module()
    fenced = generate.Module(module.pair, module.rewrite, "+x = '```'\n", "")
    assert "````diff\n+x = '```'\n````" in generate.render([fenced])


def test_unchanged_modules_are_one_line_saying_what_stays() -> None:
    source = "from celery import Celery\n"
    kept = (Kept(1, "celery", "Celery", "the app class"),)
    modules = [
        _module(),
        generate.Module(
            generate.Pair(Path("o/celery.py"), Path("m/celery.py")),
            Rewrite("m/celery.py", source, source, kept=kept),
            "",
            "nothing moves",
        ),
        generate.Module(
            generate.Pair(Path("o/__init__.py"), Path("m/__init__.py")),
            Rewrite("m/__init__.py", "", ""),
            "",
            "nothing moves",
        ),
    ]
    page = generate.render(modules)
    assert (
        "Unchanged (the same in both copies): [`m/celery.py`](../m/celery.py) (keeps `Celery` "
        "(`celery`: the app class)), [`m/__init__.py`](../m/__init__.py).\n"
    ) in page
    assert "## `m/celery.py`" not in page
