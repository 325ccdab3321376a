"""How a rewrite is shown: ``unified_diff(rewrite)``, ``side_by_side(rewrite, width)`` (two
terminal columns), ``html_report(rewrites)`` (one page, original left, migrated right,
changed lines highlighted).

The differences are difflib's (``SequenceMatcher`` over lines, and over characters inside a
changed line for the HTML report); this module only lays them out.
"""

from __future__ import annotations

import difflib
import html
import io
import shutil
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pynenc_celery_compat.migration.rewrite import Rewrite

_BOM = "\ufeff"
_NO_NEWLINE = "\\ No newline at end of file\n"


def lines_of(text: str) -> list[str]:
    """``text`` split as Python splits source lines (``\\n``, ``\\r\\n``, ``\\r``; not the
    form feeds and other separators ``str.splitlines`` also breaks at), endings kept."""
    return io.StringIO(text, newline="").readlines()


def unified_diff(rewrite: Rewrite, context: int = 3) -> str:
    """The change as a unified diff with ``a/PATH`` and ``b/PATH`` headers, as ``git diff``
    prints it (line endings as in the file, so it applies with ``git apply`` or ``patch
    -p1``); empty when nothing changed."""
    if not rewrite.changed:
        return ""
    name = rewrite.path.lstrip("/")
    out = []
    for line in difflib.unified_diff(
        lines_of(rewrite.original),
        lines_of(rewrite.migrated),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
        n=context,
    ):
        out.append(line if line.endswith(("\n", "\r")) else line + "\n" + _NO_NEWLINE)
    return "".join(out)


# --- side by side in a terminal -------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side view: a line number and text on each side (``None``
    where that side has no line), and the kind of change (``equal``, ``replace``,
    ``delete``, ``insert``)."""

    kind: str
    left_number: int | None
    left: str | None
    right_number: int | None
    right: str | None


def rows(rewrite: Rewrite, context: int | None = 3) -> Iterator[list[Row]]:
    """The changed regions of ``rewrite``, each with ``context`` unchanged lines around it
    (``None``: the whole file in one region), as lists of rows."""
    old = [_display(line) for line in lines_of(rewrite.original.removeprefix(_BOM))]
    new = [_display(line) for line in lines_of(rewrite.migrated.removeprefix(_BOM))]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if context is None:
        groups: Iterable[Iterable[tuple[str, int, int, int, int]]] = [matcher.get_opcodes()]
    else:
        groups = matcher.get_grouped_opcodes(context)
    for group in groups:
        region: list[Row] = []
        for kind, i1, i2, j1, j2 in group:
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                region.append(
                    Row(
                        kind,
                        i + 1 if i < i2 else None,
                        old[i] if i < i2 else None,
                        j + 1 if j < j2 else None,
                        new[j] if j < j2 else None,
                    )
                )
        if region:
            yield region


_MARKS = {"equal": " ", "replace": "|", "delete": "<", "insert": ">"}
_RED, _GREEN, _YELLOW, _BOLD, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[0m"


def side_by_side(
    rewrite: Rewrite, width: int | None = None, *, context: int = 3, color: bool = False
) -> str:
    """Original left, migrated right, the changed regions only (``context`` lines around
    each) with line numbers, fitted to ``width`` columns (default: the terminal's); a
    line too long for its column ends in ``…``. Changed rows are marked between the
    columns as ``sdiff`` does: ``|`` changed, ``<`` only on the left, ``>`` only on the
    right. ``color`` adds ANSI colours. Empty when nothing changed."""
    if not rewrite.changed:
        return ""
    total = width if width is not None else shutil.get_terminal_size().columns
    regions = list(rows(rewrite, context))
    longest = max(len(lines_of(rewrite.original)), len(lines_of(rewrite.migrated)))
    digits = max(3, len(str(longest)))
    column = max(8, (total - 2 * digits - 5) // 2)

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    def side(number: int | None, text: str | None, code: str) -> str:
        shown = _fit(text or "", column)
        body = shown.rstrip(" ")
        padding = shown[len(body) :]  # outside the colour, so that it can be trimmed
        number_text = f"{number:>{digits}}" if number is not None else " " * digits
        return f"{number_text} {paint(body, code) if code and body else body}{padding}"

    out = [paint(rewrite.path, _BOLD)]
    out.append(f"{' ' * digits} {_fit('original', column)}   {' ' * digits} migrated")
    for index, region in enumerate(regions):
        if index:
            out.append(f"{'⋯':>{digits}}")
        for row in region:
            changed = row.kind != "equal"
            left = side(row.left_number, row.left, _RED if changed else "")
            right = side(row.right_number, row.right, _GREEN if changed else "")
            mark = _MARKS[row.kind]
            if changed and (row.left is None or row.right is None):  # unpaired: one side only
                mark = "<" if row.right is None else ">"
            out.append(f"{left} {paint(mark, _YELLOW) if changed else mark} {right}".rstrip())
    return "\n".join(out) + "\n"


def _display(line: str) -> str:
    """A source line as shown: without its ending, tabs expanded, control characters
    (a form feed) shown as spaces."""
    text = line.rstrip("\r\n").expandtabs(8)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _fit(text: str, column: int) -> str:
    """``text`` cut (with ``…``) or padded to ``column`` terminal cells."""
    used = sum(_width(c) for c in text)
    if used <= column:
        return text + " " * (column - used)
    kept, used = [], 0
    for char in text:
        if used + _width(char) > column - 1:
            break
        kept.append(char)
        used += _width(char)
    return "".join(kept) + "…" + " " * (column - 1 - used)


# --- the HTML report ------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 2.5rem; font-family: monospace; }
.summary td, .summary th { padding: .2rem .8rem; text-align: left; }
.names { font-size: .9rem; } .names li { margin: .1rem 0; }
table.diff { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: .85rem; }
table.diff col.ln { width: 3.5rem; }
table.diff th { background: #f6f8fa; text-align: left; padding: .3rem .5rem;
  border-bottom: 1px solid #d0d7de; }
table.diff td { font-family: ui-monospace, monospace; white-space: pre-wrap;
  word-break: break-all; vertical-align: top; padding: 0 .5rem; }
table.diff td.ln { color: #6e7781; text-align: right; user-select: none; }
tr.changed td.old { background: #ffebe9; } tr.changed td.new { background: #e6ffec; }
tr.changed td.old del { background: #ffc1ba; text-decoration: none; }
tr.changed td.new ins { background: #abf2bc; text-decoration: none; }
tr.changed td.ln { background: #f6f8fa; font-weight: bold; }
tr.gap td { background: #f6f8fa; color: #6e7781; text-align: center; }
"""


def html_report(
    rewrites: Iterable[Rewrite], title: str = "pynenc-celery migrate", *, context: int | None = 5
) -> str:
    """One self-contained HTML page (no script, no external file): a summary table, then
    every changed module with the original left and the migrated text right, changed lines
    highlighted and, inside them, the changed characters; ``context`` unchanged lines
    around each change (``None``: whole modules)."""
    changed = [r for r in rewrites if r.changed]
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if not changed:
        out.append("<p>Nothing to change: no module imports a name the compat layer offers.</p>")
    else:
        out.append(f"<p>{len(changed)} module{'s' if len(changed) != 1 else ''} changed.</p>")
        out.append('<table class="summary"><tr><th>module</th><th>moved</th><th>kept</th></tr>')
        for number, rewrite in enumerate(changed, 1):
            out.append(
                f'<tr><td><a href="#module-{number}">{e(rewrite.path)}</a></td>'
                f"<td>{len(rewrite.moved)}</td><td>{len(rewrite.kept)}</td></tr>"
            )
        out.append("</table>")
    for number, rewrite in enumerate(changed, 1):
        out.extend(_module_section(number, rewrite, context))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _module_section(number: int, rewrite: Rewrite, context: int | None) -> list[str]:
    e = html.escape
    out = [f'<section id="module-{number}"><h2>{e(rewrite.path)}</h2>', '<ul class="names">']
    for moved in rewrite.moved:
        out.append(
            f"<li>line {moved.line}: <code>{e(moved.name)}</code> moved from "
            f"<code>{e(moved.celery_module)}</code> to <code>{e(moved.compat_module)}</code></li>"
        )
    for kept in rewrite.kept:
        out.append(
            f"<li>line {kept.line}: <code>{e(kept.name)}</code> kept on "
            f"<code>{e(kept.celery_module)}</code>: {e(kept.reason)}</li>"
        )
    out.append("</ul>")
    out.append(
        '<table class="diff"><colgroup><col class="ln"><col><col class="ln"><col></colgroup>'
        "<tr><th></th><th>original</th><th></th><th>migrated</th></tr>"
    )
    for index, region in enumerate(rows(rewrite, context)):
        if index:
            out.append('<tr class="gap"><td colspan="4">⋯</td></tr>')
        for row in region:
            out.append(_html_row(row))
    out.append("</table></section>")
    return out


def _html_row(row: Row) -> str:
    left, right = html.escape(row.left or ""), html.escape(row.right or "")
    if row.kind == "replace" and row.left is not None and row.right is not None:
        left, right = _marked(row.left, row.right)
    css = ' class="changed"' if row.kind != "equal" else ""
    return (
        f'<tr{css}><td class="ln">{row.left_number or ""}</td><td class="old">{left}</td>'
        f'<td class="ln">{row.right_number or ""}</td><td class="new">{right}</td></tr>'
    )


def _marked(old: str, new: str) -> tuple[str, str]:
    """``old`` and ``new`` escaped, their differing characters in ``<del>``/``<ins>``."""
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for kind, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = html.escape(old[i1:i2]), html.escape(new[j1:j2])
        if kind == "equal":
            left.append(a)
            right.append(b)
            continue
        if a:
            left.append(f"<del>{a}</del>")
        if b:
            right.append(f"<ins>{b}</ins>")
    return "".join(left), "".join(right)
