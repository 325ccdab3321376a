"""Reading and writing files: encoding, BOM and line endings kept, sources that do not parse,
a rewrite that would not parse back, and the atomic write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pynenc_celery_compat.migration import transform
from pynenc_celery_compat.migration.rewrite import (
    MigrationError,
    Rewrite,
    migrate_file,
    migrate_source,
    write_file,
)

SOURCE = "from celery import shared_task, Celery\n\n@shared_task\ndef f():\n    return 1\n"
MIGRATED = (
    "from celery import Celery\nfrom pynenc_celery_compat import shared_task\n\n"
    "@shared_task\ndef f():\n    return 1\n"
)


def test_crlf_line_endings_stay_crlf(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_bytes(SOURCE.replace("\n", "\r\n").encode())
    rewrite = migrate_file(path)
    assert rewrite.migrated == MIGRATED.replace("\n", "\r\n")
    assert write_file(rewrite)
    assert path.read_bytes() == MIGRATED.replace("\n", "\r\n").encode()
    assert not migrate_file(path).changed


def test_a_bom_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_bytes(b"\xef\xbb\xbf" + SOURCE.encode())
    rewrite = migrate_file(path)
    assert rewrite.migrated == "\ufeff" + MIGRATED
    write_file(rewrite)
    assert path.read_bytes() == b"\xef\xbb\xbf" + MIGRATED.encode()


def test_a_declared_encoding_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    source = "# -*- coding: latin-1 -*-\n# café\n" + SOURCE
    path.write_bytes(source.encode("latin-1"))
    rewrite = migrate_file(path)
    assert rewrite.encoding == "iso-8859-1"
    write_file(rewrite)
    assert path.read_bytes() == ("# -*- coding: latin-1 -*-\n# café\n" + MIGRATED).encode("latin-1")


def test_no_newline_at_the_end_stays_so() -> None:
    assert migrate_source(SOURCE.rstrip("\n")).migrated == MIGRATED.rstrip("\n")


def test_a_source_that_does_not_parse_names_file_line_and_reason() -> None:
    with pytest.raises(MigrationError, match=r"^broken\.py:3: cannot parse: .+"):
        migrate_source("from celery import shared_task\n\ndef f(:\n    pass\n", path="broken.py")


def test_a_file_that_cannot_be_decoded(tmp_path: Path) -> None:
    path = tmp_path / "binary.py"
    path.write_bytes(b"x = '\xff\xfe'\n")
    with pytest.raises(MigrationError, match=r"binary\.py: cannot decode"):
        migrate_file(path)


def test_a_rewrite_that_would_not_parse_back_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, *, include_app: bool) -> transform.Result:
        return transform.Result("from pynenc_celery_compat import (\n", [], [])

    monkeypatch.setattr(transform, "rewrite_module", broken)
    with pytest.raises(MigrationError, match="would not parse"):
        migrate_source(SOURCE, path="tasks.py")


def test_write_file_refuses_unparseable_text_and_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_text(SOURCE)
    bad = Rewrite(path=str(path), original=SOURCE, migrated="def (:\n")
    with pytest.raises(MigrationError, match="would not parse"):
        write_file(bad)
    assert path.read_text() == SOURCE
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.py"]


def test_write_file_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_text(SOURCE)
    os.chmod(path, 0o750)
    write_file(migrate_file(path))
    assert path.read_text() == MIGRATED
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.py"]


def test_write_file_follows_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "real.py"
    target.write_text(SOURCE)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_file(migrate_file(link))
    assert link.is_symlink()
    assert target.read_text() == MIGRATED


def test_write_file_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_text(SOURCE)
    rewrite = migrate_file(path)
    path.write_text(SOURCE + "# edited meanwhile\n")
    with pytest.raises(MigrationError, match="changed on disk"):
        write_file(rewrite)
    assert path.read_text().endswith("# edited meanwhile\n")


def test_an_unchanged_rewrite_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text("from celery import Celery\n")
    before = path.stat().st_mtime_ns
    assert not write_file(migrate_file(path))
    assert path.stat().st_mtime_ns == before


def test_a_module_without_celery_is_not_parsed_by_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(text: str, *, include_app: bool) -> transform.Result:
        raise AssertionError("libcst should not run on a module that does not import Celery")

    monkeypatch.setattr(transform, "rewrite_module", fail)
    rewrite = migrate_source("import os\nprint('celery')\n")
    assert not rewrite.changed
