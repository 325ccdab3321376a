"""Facts the docs state that the code decides: kept in step by these tests."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from pynenc.orchestrator.transitions import TRANSITIONS
from pynenc.records import InvocationStatus
from pynenc.state_backend.sqlite import database_path

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_status_table_matches_the_transition_table() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Statuses", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in InvocationStatus.__members__:
            rows[cells[0]] = cells
    assert set(rows) == {status.name for status in InvocationStatus}
    for status, rule in TRANSITIONS.items():
        _, next_, final, owned = rows[status.name]
        documented = set() if next_ == "—" else {s.strip() for s in next_.split(",")}
        assert documented == {s.name for s in rule.next}, status
        assert (final == "yes", owned == "yes") == (rule.final, rule.owned), status


def test_readme_sqlite_examples_name_absolute_files() -> None:
    """``sqlite:///var/x.db`` is the relative path var/x.db; an absolute one needs four."""
    urls = re.findall(r"=\s*\"?(sqlite://[^\s\"]+)", (ROOT / "README.md").read_text())
    assert urls, "the README shows no SQLite settings any more: drop this test"
    for url in urls:
        assert url.startswith("sqlite:////"), url
        assert database_path(url) == url.removeprefix("sqlite:///")


def _documented_options() -> dict[str, tuple[str, str]]:
    """``docs/configuration.md``'s option tables: qualified name -> (env variable, default)."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    options = (text.split("## Options", 1)[1]).split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    section = ""
    for line in options.splitlines():
        if line.startswith("### "):
            section = "task" if "`task`" in line else ""
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) < 5 or not cells[0].startswith("`") or not cells[1].startswith("`PYNENC"):
            continue
        name = cells[0].strip("`")
        rows[f"task.{name}" if section == "task" else name] = (cells[1].strip("`"), cells[3])
    return rows


def _doc_default(cell: str) -> object:
    """The first backquoted value of a default cell, as the Python value it names."""
    match = re.search(r"`([^`]*)`", cell)
    assert match, cell
    raw = match.group(1)
    words: dict[str, object] = {"true": True, "false": False, "none": None}
    if raw.lower() in words:
        return words[raw.lower()]
    if raw in ("[]", "()"):
        return ()
    if raw == "{}":
        return {}
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def test_configuration_doc_lists_every_option_with_its_variable_and_default() -> None:
    """Every option ``show-config`` prints is in docs/configuration.md, with its default."""
    from pynenc.conf.app_config import (
        APP_OPTIONS,
        BROKER_OPTIONS,
        CLIENT_DATA_STORE_OPTIONS,
        RUNNER_OPTIONS,
    )
    from pynenc.conf.task_config import TASK_OPTIONS
    from pynenc.conf.trigger_options import TRIGGER_OPTIONS

    documented = _documented_options()
    declared = {}
    tables = (
        APP_OPTIONS,
        RUNNER_OPTIONS,
        TRIGGER_OPTIONS,
        BROKER_OPTIONS,
        CLIENT_DATA_STORE_OPTIONS,
    )
    for table in tables:
        for option in table.options.values():
            declared[table.qualname(option.name)] = option
    for option in TASK_OPTIONS.options.values():
        declared[f"task.{option.name}"] = option
    assert set(documented) == set(declared)
    for name, option in declared.items():
        env, default_cell = documented[name]
        assert env == "PYNENC__" + name.replace(".", "__").upper(), name
        default = option.default
        if isinstance(default, (list, tuple)):
            default = tuple(default)
        if isinstance(default, Enum):
            default = default.value
        assert _doc_default(default_cell) == default, (name, default_cell, option.default)


def _comparable(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(value, Enum):
        return str(value.value).lower()
    if isinstance(value, str):
        return value.lower()
    return value


def test_task_option_tables_in_the_topic_docs_give_the_real_defaults() -> None:
    """Tables of task options in docs/*.md (``| option | default | …``) match the code."""
    from pynenc.conf.task_config import TASK_OPTIONS

    checked = 0
    for doc in sorted((ROOT / "docs").glob("*.md")):
        if doc.name == "configuration.md":
            continue  # its own test above
        default_column = None
        for line in doc.read_text().splitlines():
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            if not line.lstrip().startswith("|"):
                default_column = None
            elif "default" in cells and cells[0] in ("option", "task option"):
                default_column = cells.index("default")
            elif default_column is not None and cells[0].startswith("`"):
                name = cells[0].strip("`")
                if name in TASK_OPTIONS.options:
                    documented = _doc_default(cells[default_column])
                    default = TASK_OPTIONS.options[name].default
                    assert _comparable(documented) == _comparable(default), (doc.name, name)
                    checked += 1
    assert checked >= 10, "the topic docs no longer show task option tables: drop this test"


def test_cancel_exit_codes_are_the_documented_ones() -> None:
    from pynenc.cli.cancel import EXIT_ALREADY_FINISHED
    from pynenc.cli.inspect import EXIT_FAILED

    limits = (ROOT / "docs" / "limits-and-cancellation.md").read_text()
    assert f"exits 0 when it cancelled the invocation, {EXIT_ALREADY_FINISHED} when" in limits
    readme = (ROOT / "README.md").read_text()
    assert f"exit 0 cancelled, {EXIT_ALREADY_FINISHED} already finished" in readme
    assert f"`status` exits 0, or {EXIT_FAILED} when the invocation FAILED, EXPIRED or" in readme
