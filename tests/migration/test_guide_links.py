"""Every relative link and ``#anchor`` in ``migration_guide/*.md`` leads somewhere.

Anchors follow the code host's rules for headings (lower case, punctuation dropped, spaces
to hyphens, ``-1``, ``-2`` … for repeats); ``<a id=…>``/``<a name=…>`` count too. The
sections the audit links to (``mapping.md#decorator-options`` …) must exist, and so must
every ``migration_guide/…md#anchor`` the migration package's source names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "migration_guide"

#: the ``## `` headings of mapping.md the audit links to, and their anchors
MAPPING_SECTIONS = {
    "Imports": "imports",
    "The app": "the-app",
    "Decorator options": "decorator-options",
    "Calling options": "calling-options",
    "Result API": "result-api",
    "States": "states",
    "Settings": "settings",
    "Canvas": "canvas",
    "Beat": "beat",
    "Signals": "signals",
    "Worker flags": "worker-flags",
    "Test tooling": "test-tooling",
}

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HREF = re.compile(r"""<a\s[^>]*href=["']([^"']+)["']""", re.IGNORECASE)
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*(?:id|name)=["']([^"']+)["']""", re.IGNORECASE)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _prose_lines(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks."""
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield line
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            fence = None


def slug(heading: str) -> str:
    """The code host's anchor of a heading's text (Markdown source)."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        found.update(_HTML_ANCHOR.findall(line))
        match = _HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every link outside code."""
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            continue
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        prose = _CODE_SPAN.sub("", line)
        for target in _LINK.findall(prose) + _HREF.findall(prose):
            yield number, target


def _is_external(target: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) is not None


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links_of(path):
        if _is_external(target):
            continue
        file_part, _, fragment = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif fragment:
            if destination.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif fragment not in anchors_of(destination):
                problems.append(f"{where}: no heading with that anchor")
    return problems


GUIDE_FILES = sorted(GUIDE.glob("*.md"))


def test_the_guide_has_its_files() -> None:
    names = {path.name for path in GUIDE_FILES}
    assert {"README.md", "rollout.md", "mapping.md", "differences.md", "tools.md"} <= names


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda path: path.name)
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_mapping_has_the_sections_the_audit_links_to() -> None:
    text = (GUIDE / "mapping.md").read_text(encoding="utf-8")
    headings = [
        m.group(2)
        for line in _prose_lines(text)
        if (m := _HEADING.match(line)) and m.group(1) == "##"
    ]
    assert [h for h in headings if h in MAPPING_SECTIONS] == list(MAPPING_SECTIONS)
    for heading, expected in MAPPING_SECTIONS.items():
        assert slug(heading) == expected


def test_the_sections_the_migration_tools_name_exist() -> None:
    """``migration_guide/FILE.md#anchor`` strings in the tools' source (the audit's
    ``Finding.section``) lead to a heading."""
    named = re.compile(r"migration_guide/([a-z][\w-]*\.md)(?:#([\w-]+))?")
    problems = []
    for source in sorted((ROOT / "pynenc_celery_compat" / "migration").glob("*.py")):
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            for name, fragment in named.findall(line):
                target = GUIDE / name
                where = f"{source.relative_to(ROOT)}:{number}: migration_guide/{name}"
                if not target.exists():
                    problems.append(f"{where}: no such file")
                elif fragment and fragment not in anchors_of(target):
                    problems.append(f"{where}#{fragment}: no heading with that anchor")
    assert problems == []


def _sections(value: object, depth: int = 0) -> Iterator[str]:
    """The ``section`` strings held by ``value`` (a rating, or containers of them)."""
    section = getattr(value, "section", None)
    if isinstance(section, str):
        yield section
    if depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _sections(item, depth + 1)
    elif depth < 3 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _sections(item, depth + 1)


def _check_section(section: str, where: str) -> str | None:
    name, _, fragment = section.partition("#")
    target = ROOT / name
    if not name.startswith("migration_guide/") or not target.exists():
        return f"{where}: {section}: no such file"
    if fragment and fragment not in anchors_of(target):
        return f"{where}: {section}: no heading with that anchor"
    return None


def test_the_audit_ratings_lead_to_a_heading() -> None:
    """Every rating the audit's tables hold (``catalog*`` modules), and every finding of an
    audit of the fixture codebases, names a section of the guide that exists."""
    import importlib
    import pkgutil

    import pynenc_celery_compat.migration as migration

    sections: list[tuple[str, str]] = []
    for info in pkgutil.iter_modules(migration.__path__):
        if info.name.startswith("catalog"):
            module = importlib.import_module(f"{migration.__name__}.{info.name}")
            for name, value in vars(module).items():
                sections += [(f"{info.name}.{name}", s) for s in _sections(value)]
    from pynenc_celery_compat.migration import audit

    fixtures = ROOT / "tests" / "migration" / "fixtures"
    paths = getattr(audit, "audit_paths", None)
    if callable(paths) and fixtures.is_dir():
        try:
            report = paths([fixtures])
        except NotImplementedError:
            report = None
        for finding in report.findings if report is not None else ():
            sections.append((f"{finding.path}:{finding.line} {finding.api}", finding.section))
    problems = {p for where, s in sections if (p := _check_section(s, where)) is not None}
    assert sorted(problems) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Calling: `delay`, `apply_async` and their options",
            "calling-delay-apply_async-and-their-options",
        ),
        ("Recovery of a dead worker's tasks", "recovery-of-a-dead-workers-tasks"),
        ("Beat (periodic tasks)", "beat-periodic-tasks"),
        ("self.replace() is refused on a runner", "selfreplace-is-refused-on-a-runner"),
        ("Step 5: switch back if needed", "step-5-switch-back-if-needed"),
        ("`samples/demo/tasks.py`", "samplesdemotaskspy"),
    ],
)
def test_slug_follows_the_code_hosts_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_broken_anchor_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## A `code` heading\n\n[ok](#a-code-heading) [bad](#nowhere) "
        "[gone](missing.md)\n\n```md\n[in code](#ignored)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "page.md:5: #nowhere: no heading with that anchor",
        "page.md:5: missing.md: no such file",
    ]
