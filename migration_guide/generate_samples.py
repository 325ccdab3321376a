"""Build ``migration_guide/samples.md``: the sample modules, original and migrated, side by side.

Every section is made by the migrate tool itself (``migrate_source`` and ``unified_diff``
of :mod:`pynenc_celery_compat.migration`), from pairs of files checked in under
``samples/``:

- ``samples/celery_migration_demo/tasks_original.py`` → ``tasks.py`` (listed in
  :data:`PAIRS`);
- every project copy under ``samples/celery_migration_demo/``: a directory ``X_original``
  beside its migrated twin ``X``, or a directory ``original`` holding ``X`` beside ``X``.
  Each ``.py`` file of the original tree pairs with the file at the same relative path in
  the migrated tree.

The migrated file of a pair must be exactly what the tool makes of the original (with the
app class kept on Celery, or moved too), or the file itself when the sample leaves that
module on Celery. Anything else means the sample has drifted from the tool: the run fails
naming the file.

Usage (from the repository root; ``make guide`` runs the first)::

    python migration_guide/generate_samples.py            # write samples.md
    python migration_guide/generate_samples.py --check    # exit 1 if samples.md is stale

Exit status: 0 done (or current), 1 ``samples.md`` is stale, 2 a sample drifted or a pair
is broken, 3 the migrate tool is not available yet.
"""

from __future__ import annotations

import argparse
import difflib
import html
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the tool is imported when used: --help works without libcst
    from pynenc_celery_compat.migration.rewrite import Rewrite

#: the repository root (this file is ``<root>/migration_guide/generate_samples.py``)
ROOT = Path(__file__).resolve().parent.parent
#: where the sample projects live, relative to the root
DEMO = Path("samples/celery_migration_demo")
#: the page written, relative to the root
OUTPUT = Path("migration_guide/samples.md")
#: explicit (original, migrated) pairs, relative to the root, shown first
PAIRS: tuple[tuple[Path, Path], ...] = ((DEMO / "tasks_original.py", DEMO / "tasks.py"),)
#: lines of unchanged code shown around each change in the side-by-side table
CONTEXT = 2

EXIT_STALE = 1
EXIT_DRIFT = 2
EXIT_NO_TOOL = 3


class SampleError(Exception):
    """A pair the page cannot be built from (drifted, or a file missing); names the file."""


@dataclass(frozen=True)
class Pair:
    """A module before and after its migration, paths relative to the root."""

    original: Path
    migrated: Path


@dataclass(frozen=True)
class Module:
    """What the page shows for one pair."""

    pair: Pair
    rewrite: Rewrite  # what the tool makes of the original
    diff: str  # empty: the sample leaves the module as it was
    note: str  # how the migrated file came about


# -- which pairs ------------------------------------------------------------------------------


def _project_roots(root: Path) -> Iterator[tuple[Path, Path]]:
    """(original tree, migrated tree) of each project copy under ``DEMO``."""
    demo = root / DEMO
    if not demo.is_dir():
        return
    for child in sorted(demo.iterdir()):
        if not child.is_dir():
            continue
        if child.name.endswith("_original"):
            yield child, child.with_name(child.name.removesuffix("_original"))
        elif child.name == "original":
            for project in sorted(child.iterdir()):
                if project.is_dir() and project.name != "__pycache__":
                    yield project, demo / project.name


def discover_pairs(root: Path = ROOT) -> list[Pair]:
    """Every (original, migrated) pair: :data:`PAIRS`, then each project copy's modules.

    :raises SampleError: a migrated counterpart is missing.
    """
    pairs = [Pair(original, migrated) for original, migrated in PAIRS]
    for original_tree, migrated_tree in _project_roots(root):
        if not migrated_tree.is_dir():
            raise SampleError(
                f"{original_tree.relative_to(root)}: no migrated copy beside it (expected "
                f"{migrated_tree.relative_to(root)}/)"
            )
        for source in sorted(original_tree.rglob("*.py")):
            relative = source.relative_to(original_tree)
            if "__pycache__" in relative.parts:
                continue
            pairs.append(
                Pair(source.relative_to(root), (migrated_tree / relative).relative_to(root))
            )
    for pair in pairs:
        for path in (pair.original, pair.migrated):
            if not (root / path).is_file():
                raise SampleError(f"{path}: missing (a sample pair needs both files)")
    return pairs


# -- the tool ---------------------------------------------------------------------------------


def tool_missing() -> str | None:
    """Why the migrate tool cannot build the page yet, or ``None`` when it can."""
    try:
        from pynenc_celery_compat.migration import rewrite, views
    except ImportError as exc:  # pragma: no cover - the package is part of this repository
        return f"pynenc_celery_compat.migration cannot be imported: {exc}"
    if not callable(getattr(views, "unified_diff", None)):
        return "pynenc_celery_compat.migration.views.unified_diff is not implemented yet"
    try:
        rewrite.migrate_source("from celery import shared_task\n")
    except NotImplementedError:
        return "pynenc_celery_compat.migration.rewrite.migrate_source is not implemented yet"
    return None


def build_module(pair: Pair, root: Path = ROOT) -> Module:
    """Run the tool on ``pair.original`` and check its output is ``pair.migrated``.

    :raises SampleError: the checked-in migrated file is not what the tool makes.
    """
    from pynenc_celery_compat.migration.rewrite import migrate_source
    from pynenc_celery_compat.migration.views import unified_diff

    original = (root / pair.original).read_text(encoding="utf-8")
    migrated = (root / pair.migrated).read_text(encoding="utf-8")
    name = pair.migrated.as_posix()
    made = migrate_source(original, path=name)
    if made.migrated == migrated:
        if not made.changed:
            return Module(pair, made, "", "nothing moves")
        return Module(pair, made, unified_diff(made), "")
    if original == migrated:
        return Module(pair, made, "", "left on Celery in this sample")
    with_app = migrate_source(original, path=name, include_app=True)
    if with_app.migrated == migrated:
        return Module(pair, with_app, unified_diff(with_app), "with the app class moved")
    drift = "".join(
        difflib.unified_diff(
            made.migrated.splitlines(keepends=True),
            migrated.splitlines(keepends=True),
            f"what the tool makes of {pair.original.as_posix()}",
            f"{name} (checked in)",
        )
    )
    raise SampleError(
        f"{name} is not what `pynenc-celery migrate` makes of {pair.original.as_posix()}: "
        f"the sample has drifted from the tool. Fix the sample (or the tool), then run "
        f"`make guide`.\n{drift}"
    )


# -- the page ---------------------------------------------------------------------------------


def anchor(heading: str) -> str:
    """The anchor a code host gives a heading: lower case, punctuation dropped, spaces to
    hyphens (``\\`samples/x.py\\``` → ``samplesxpy``)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _names(rewrite: Rewrite) -> tuple[str, str]:
    """Markdown lists of the names moved (by module) and kept (with why)."""
    moved: dict[tuple[str, str], list[str]] = {}
    for item in rewrite.moved:
        moved.setdefault((item.celery_module, item.compat_module), []).append(item.name)
    moved_text = "; ".join(
        f"{', '.join(f'`{n}`' for n in names)} from `{celery}` to `{compat}`"
        for (celery, compat), names in moved.items()
    )
    kept_text = "; ".join(
        f"`{item.name}` (`{item.celery_module}`: {item.reason})" for item in rewrite.kept
    )
    return (moved_text or "none").replace("|", "\\|"), (kept_text or "none").replace("|", "\\|")


def _cell(lines: Sequence[str], first: int, changed: bool, width: int, marker: str) -> list[str]:
    """Rows of one side of a hunk: numbered, changed ones marked and bold."""
    out = []
    for offset, line in enumerate(lines):
        number = str(first + offset).rjust(width)
        text = html.escape(line.rstrip("\n"), quote=False)
        out.append(f"<b>{number} {marker} {text}</b>" if changed else f"{number}   {text}")
    return out


def side_by_side(original: str, migrated: str, left: str, right: str) -> str:
    """An HTML table a code host renders: original left, migrated right, the changed lines
    with :data:`CONTEXT` lines around them, one row per hunk. No line inside is blank, so
    Markdown renderers keep the table as one HTML block."""
    before = original.splitlines()
    after = migrated.splitlines()
    width = len(str(max(len(before), len(after), 1)))
    pad = "&nbsp;"
    rows = [
        "<table>",
        f"<tr><th>original: <code>{html.escape(left)}</code></th>"
        f"<th>migrated: <code>{html.escape(right)}</code></th></tr>",
    ]
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT):
        cells: tuple[list[str], list[str]] = ([], [])
        for tag, i1, i2, j1, j2 in group:
            changed = tag != "equal"
            old = _cell(before[i1:i2], i1 + 1, changed, width, "-")
            new = _cell(after[j1:j2], j1 + 1, changed, width, "+")
            size = max(len(old), len(new))
            cells[0].extend(old + [pad] * (size - len(old)))
            cells[1].extend(new + [pad] * (size - len(new)))
        rows.append("<tr>")
        for cell in cells:
            rows.append("<td><pre>")
            rows.extend(cell)
            rows.append("</pre></td>")
        rows.append("</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _unchanged(module: Module) -> str:
    """A module the samples leave as it is, and why when that is not plain."""
    why = []
    if module.rewrite.changed:  # the tool would move names: the sample keeps it on Celery
        why.append(f"{module.note}; the tool would move {_names(module.rewrite)[0]}")
    if module.rewrite.kept:
        why.append(f"keeps {_names(module.rewrite)[1]}")
    return _link(module.pair.migrated) + (f" ({'; '.join(why)})" if why else "")


def _heading(module: Module) -> str:
    return f"`{module.pair.migrated.as_posix()}`"


def _link(path: Path) -> str:
    """A link from ``migration_guide/`` to a file of the repository."""
    return f"[`{path.as_posix()}`](../{path.as_posix()})"


def render(modules: Sequence[Module]) -> str:
    """The whole page."""
    changed = [m for m in modules if m.diff]
    unchanged = [m for m in modules if not m.diff]
    lines = [
        "# Samples: Celery modules before and after `pynenc-celery migrate`",
        "",
        "<!-- generated by migration_guide/generate_samples.py (`make guide`): do not edit; "
        "tests/migration/test_guide_samples.py fails when it is stale -->",
        "",
        "The sample modules of this repository, as the migrate tool rewrites them. Each pair "
        "is checked in under `samples/` (the original module and the migrated one), and this "
        "page is generated by running the tool on the original: the generator fails when the "
        "checked-in migrated module differs from what the tool makes, so the page and the "
        "samples cannot drift apart. See [rollout.md](rollout.md) for where this step fits, and "
        "[the samples' README](../samples/celery_migration_demo/README.md) for the scripts "
        "that run them, before and after, on Celery and on pynenc.",
        "",
        "| migrated module | original | names moved | names kept on Celery |",
        "|---|---|---|---|",
    ]
    for module in changed:
        moved, kept = _names(module.rewrite)
        title = _heading(module)
        lines.append(
            f"| [{title}](#{anchor(title)}) | {_link(module.pair.original)} | {moved} | {kept} |"
        )
    if unchanged:
        lines += [
            "",
            "Unchanged (the same in both copies): " + ", ".join(map(_unchanged, unchanged)) + ".",
        ]
    for module in changed:
        original = module.pair.original.as_posix()
        migrated = module.pair.migrated.as_posix()
        fence = _fence(module.diff)
        how = f" ({module.note})" if module.note else ""
        lines += [
            "",
            f"## {_heading(module)}",
            "",
            f"{_link(module.pair.original)} → {_link(module.pair.migrated)}{how}.",
            "",
            f"{fence}diff",
            module.diff.rstrip("\n"),
            fence,
            "",
            side_by_side(module.rewrite.original, module.rewrite.migrated, original, migrated),
        ]
    return "\n".join(lines) + "\n"


def build_page(root: Path = ROOT) -> str:
    """The page for the samples under ``root``.

    :raises SampleError: a pair is broken or has drifted from the tool.
    """
    return render([build_module(pair, root) for pair in discover_pairs(root)])


# -- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if samples.md differs from what it would be"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    missing = tool_missing()
    if missing is not None:
        print(f"generate_samples: {missing}", file=sys.stderr)
        return EXIT_NO_TOOL
    try:
        page = build_page(root)
    except SampleError as exc:
        print(f"generate_samples: {exc}", file=sys.stderr)
        return EXIT_DRIFT
    output = root / OUTPUT
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != page:
            print(
                f"generate_samples: {OUTPUT} is stale: run `make guide` and commit it",
                file=sys.stderr,
            )
            return EXIT_STALE
        return 0
    output.write_text(page, encoding="utf-8")
    print(f"generate_samples: wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
