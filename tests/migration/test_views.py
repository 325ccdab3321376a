"""The three views of a rewrite: unified diff, terminal columns, HTML report."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pynenc_celery_compat.migration.rewrite import Rewrite, migrate_source
from pynenc_celery_compat.migration.views import html_report, side_by_side, unified_diff

SOURCE = (
    "from celery import shared_task, Celery\n"
    + 'GREETING = "<b>hello</b> & bye"\n'
    + "".join(f"# line {n}\n" for n in range(3, 30))
    + "@shared_task\ndef f():\n    return GREETING\n"
)


def rewrite_of(source: str = SOURCE, path: str = "proj/tasks.py") -> Rewrite:
    return migrate_source(source, path=path)


def test_unified_diff_headers_and_hunk() -> None:
    diff = unified_diff(rewrite_of())
    assert diff.splitlines()[:3] == [
        "--- a/proj/tasks.py",
        "+++ b/proj/tasks.py",
        "@@ -1,4 +1,5 @@",
    ]
    assert "-from celery import shared_task, Celery\n" in diff
    assert "+from celery import Celery\n+from pynenc_celery_compat import shared_task\n" in diff


def test_unified_diff_is_empty_without_a_change() -> None:
    assert unified_diff(rewrite_of("from celery import Celery\n")) == ""


def test_unified_diff_applies_with_git_apply_crlf_and_missing_newline_included(
    tmp_path: Path,
) -> None:
    source = "from celery import shared_task\r\nx = 1\r\nt = shared_task"
    (tmp_path / "m.py").write_bytes(source.encode())
    diff = unified_diff(rewrite_of(source, path="m.py"))
    assert "\\ No newline at end of file\n" in diff
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=diff.encode(), check=True)
    assert (tmp_path / "m.py").read_bytes() == source.replace(
        "from celery", "from pynenc_celery_compat"
    ).encode()


def test_side_by_side_fits_the_width_and_marks_changed_lines() -> None:
    view = side_by_side(rewrite_of(), width=60)
    lines = view.splitlines()
    assert lines[0] == "proj/tasks.py"
    assert all(len(line) <= 60 for line in lines)
    first = next(line for line in lines if line.startswith("  1 from celery import"))
    assert " | " in first  # changed on both sides
    inserted = next(line for line in lines if "2 from pynenc_celery_comp" in line)
    assert " > " in inserted  # only on the right
    assert "…" in inserted  # too long for its column: cut
    # only the changed region and its context: line 20 is far from the change
    assert "# line 20" not in view
    assert "# line 4" in view


def test_side_by_side_uses_the_terminal_width_by_default(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")
    lines = side_by_side(rewrite_of()).splitlines()
    assert any("from pynenc_celery_compat import shared_task" in line for line in lines)
    assert max(len(line) for line in lines) <= 200


def test_side_by_side_separates_distant_changes() -> None:
    source = "import celery\n" + "pass\n" * 20 + "t = celery.shared_task\n"
    view = side_by_side(rewrite_of(source), width=100)
    assert "⋯" in view
    left = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+) ", view, re.MULTILINE)]
    assert left[0] == 1 and left[-1] == 22
    assert view.splitlines()[-1].endswith("|  22 t = pynenc_celery_compat.shared_task")


def test_side_by_side_in_colour() -> None:
    view = side_by_side(rewrite_of(), width=120, color=True)
    assert "\x1b[31m" in view and "\x1b[32m" in view


def test_html_report_highlights_changed_lines_and_escapes_code() -> None:
    unchanged = rewrite_of("from celery import Celery\n", path="proj/app.py")
    page = html_report([rewrite_of(), unchanged], title="Shop <migration>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Shop &lt;migration&gt;</title>" in page
    assert "proj/app.py" not in page  # unchanged modules are not shown
    assert page.count('<section id="module-') == 1
    changed_rows = re.findall(r'<tr class="changed">(.*?)</tr>', page)
    assert len(changed_rows) == 2  # one line became two
    assert "pynenc_celery_compat" in changed_rows[0] or "pynenc_celery_compat" in changed_rows[1]
    assert "from celery import <del>shared_task, </del>Celery" in page  # inside the line
    one_line = html_report([rewrite_of("from celery import group\n")])
    assert "from <ins>pynenc_</ins>celery<ins>_compat</ins> import group" in one_line
    # the code is escaped: "<b>" shows as text, it is not markup
    assert "&lt;b&gt;hello&lt;/b&gt; &amp; bye" in page
    assert "<b>hello" not in page
    assert "shared_task</code> moved from <code>celery</code>" in page


def test_html_report_whole_modules_and_no_change() -> None:
    page = html_report([rewrite_of()], context=None)
    assert "# line 20" in page
    assert "Nothing to change" in html_report([rewrite_of("import os\n")])
