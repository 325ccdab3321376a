"""Facts the docs state that the code decides: kept in step by these tests."""

from __future__ import annotations

import re
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
