"""Splitting one ``from … import a, b, c`` into two statements that keep its layout.

In a parenthesised multi-line import every name keeps the comment at the end of its line
and the comment lines above it (``# canvas`` before ``group,``); the statement that stays
in place keeps the comment of the line of its ``(`` (the new one gets it too when it is a
pragma such as ``# noqa``); a trailing comma is kept where the
original had one. An import on one line becomes two imports on one line each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

_Whitespace = cst.BaseParenthesizableWhitespace

#: comments addressed to tools about the statement's line: they go with every piece of it
_PRAGMA = re.compile(r"#\s*(noqa\b|type:\s*ignore\b|pyright:\s*ignore\b|pylint:\s*disable\b)")


def is_pragma(comment: cst.Comment | None) -> bool:
    """Whether ``comment`` is a linter or type checker pragma (``# noqa: F401``, ``# type:
    ignore``, ``# pyright: ignore``, ``# pylint: disable=…``), which a split copies to the
    new statement: it silenced something about the imported names."""
    return comment is not None and _PRAGMA.match(comment.value) is not None


def split_from(
    node: cst.ImportFrom, groups: Sequence[tuple[cst.Attribute | cst.Name, Sequence[int]]]
) -> list[cst.ImportFrom]:
    """One statement per group: the names of ``node`` at the group's indexes (in order,
    non-empty) imported from the group's module. The first statement stands where
    ``node`` stood and keeps the comments of its ``(`` line and of the lines above ``)``."""
    names = node.names
    assert isinstance(names, Sequence)
    return [
        _subset(node, list(names), indexes, keep_paren_comment=number == 0).with_changes(
            module=module
        )
        for number, (module, indexes) in enumerate(groups)
    ]


def _subset(
    node: cst.ImportFrom,
    names: list[cst.ImportAlias],
    indexes: Sequence[int],
    *,
    keep_paren_comment: bool,
) -> cst.ImportFrom:
    if node.lpar is None or node.rpar is None:
        return node.with_changes(names=_single_line(names, indexes))
    trailing = isinstance(names[-1].comma, cst.Comma)
    after = [_after(names, node.rpar, i) for i in range(len(names))]
    before = [node.lpar.whitespace_after, *after[:-1]]
    closing = after[-1]
    opening = node.lpar.whitespace_after
    # the comments of the "(" line and of the lines above ")" stay with the statement in place
    if (
        not keep_paren_comment
        and isinstance(opening, cst.ParenthesizedWhitespace)
        and not is_pragma(opening.first_line.comment)
    ):
        opening = opening.with_changes(first_line=cst.TrailingWhitespace())
    if not keep_paren_comment and isinstance(closing, cst.ParenthesizedWhitespace):
        closing = closing.with_changes(empty_lines=())
    start = before[indexes[0]]
    if isinstance(opening, cst.ParenthesizedWhitespace) or _comment_lines(start):
        start = _join(opening, start)
    else:  # names begin on the "(" line (``(a, b)`` -> ``(b)``, not ``( b)``): so does this
        start = opening
    lpar = node.lpar.with_changes(whitespace_after=start)
    picked: list[cst.ImportAlias] = []
    for position, index in enumerate(indexes):
        alias = names[index]
        comma = alias.comma if isinstance(alias.comma, cst.Comma) else cst.Comma()
        if position + 1 < len(indexes):
            following = before[indexes[position + 1]]
            picked.append(
                alias.with_changes(
                    comma=comma.with_changes(whitespace_after=_join(after[index], following))
                )
            )
            continue
        end = _join(after[index], closing)
        if not isinstance(closing, cst.ParenthesizedWhitespace) and not _ends_in_comment(
            after[index]
        ):  # the ")" followed the last name on its line: it follows this one
            end = closing
        if trailing:
            picked.append(alias.with_changes(comma=comma.with_changes(whitespace_after=end)))
            rpar = node.rpar
        else:
            picked.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            rpar = node.rpar.with_changes(whitespace_before=end)
    return node.with_changes(names=picked, lpar=lpar, rpar=rpar)


def _comment_lines(space: _Whitespace) -> bool:
    """Whether ``space`` holds comment lines (they belong to the name after it)."""
    return isinstance(space, cst.ParenthesizedWhitespace) and any(
        line.comment is not None for line in space.empty_lines
    )


def _ends_in_comment(space: _Whitespace) -> bool:
    """Whether ``space`` starts with a comment ending the line of the name before it."""
    return isinstance(space, cst.ParenthesizedWhitespace) and space.first_line.comment is not None


def _after(names: list[cst.ImportAlias], rpar: cst.RightParen, index: int) -> _Whitespace:
    """The whitespace after the name at ``index``: after its comma, or before the ``)``."""
    comma = names[index].comma
    if isinstance(comma, cst.Comma):
        return comma.whitespace_after
    return rpar.whitespace_before


def _join(end_of_line: _Whitespace, next_line: _Whitespace) -> _Whitespace:
    """Whitespace ending a name's line as ``end_of_line`` did (its comment) and reaching
    the next element as ``next_line`` did (comment lines above it, its indentation)."""
    if end_of_line is next_line:
        return end_of_line
    first = isinstance(end_of_line, cst.ParenthesizedWhitespace)
    second = isinstance(next_line, cst.ParenthesizedWhitespace)
    if first and second:
        assert isinstance(end_of_line, cst.ParenthesizedWhitespace)
        return next_line.with_changes(first_line=end_of_line.first_line)
    if first:  # the next element was on the line of another name: reach it on a line of its own
        assert isinstance(end_of_line, cst.ParenthesizedWhitespace)
        return end_of_line.with_changes(empty_lines=())
    if second:
        return next_line.with_changes(first_line=cst.TrailingWhitespace())
    return next_line


def _single_line(names: list[cst.ImportAlias], indexes: Sequence[int]) -> list[cst.ImportAlias]:
    picked = [names[i] for i in indexes]
    last = picked[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return [*picked[:-1], last]


def realign(original: cst.ImportFrom, piece: cst.ImportFrom) -> cst.ImportFrom:
    """``piece`` with its continuation lines moved to stay aligned with its ``(`` when in
    ``original`` they were aligned with that ``(`` (isort's default grid layout: ``from
    celery.exceptions import (Retry,`` / ``<spaces>Ignore)``), now that the module name has
    another length. Other layouts (one name per indented line) are left as they are."""
    old, new = _after_paren(original), _after_paren(piece)
    if old is None or new is None or old == new or piece.lpar is None or piece.rpar is None:
        return piece

    def moved(space: _Whitespace) -> _Whitespace:
        if not isinstance(space, cst.ParenthesizedWhitespace):
            return space
        lines = [
            line.with_changes(whitespace=cst.SimpleWhitespace(" " * new))
            if line.comment is not None and len(line.whitespace.value) == old
            else line
            for line in space.empty_lines
        ]
        last = space.last_line
        if len(last.value) == old:
            last = cst.SimpleWhitespace(" " * new)
        return space.with_changes(empty_lines=lines, last_line=last)

    names = piece.names
    assert isinstance(names, Sequence)
    aligned = [
        alias.with_changes(
            comma=alias.comma.with_changes(whitespace_after=moved(alias.comma.whitespace_after))
        )
        if isinstance(alias.comma, cst.Comma)
        else alias
        for alias in names
    ]
    rpar = piece.rpar.with_changes(whitespace_before=moved(piece.rpar.whitespace_before))
    lpar = piece.lpar.with_changes(whitespace_after=moved(piece.lpar.whitespace_after))
    return piece.with_changes(names=aligned, lpar=lpar, rpar=rpar)


def _after_paren(node: cst.ImportFrom) -> int | None:
    """The column just after the ``(`` of ``node``, counted from the statement's start."""
    code = cst.Module([]).code_for_node(node)
    first_line = code.split("\n", 1)[0]
    index = first_line.find("(")
    return None if index < 0 else index + 1


def unwrap_single(piece: cst.ImportFrom) -> cst.ImportFrom:
    """``piece`` without its parentheses when a split left them around one name on one
    line (``from celery.exceptions import (Retry)`` -> ``… import Retry``)."""
    names = piece.names
    if piece.lpar is None or piece.rpar is None or not isinstance(names, Sequence):
        return piece
    if len(names) != 1 or isinstance(names[0].comma, cst.Comma):
        return piece
    inside = (piece.lpar.whitespace_after, piece.rpar.whitespace_before)
    if any(isinstance(space, cst.ParenthesizedWhitespace) for space in inside):
        return piece
    return piece.with_changes(lpar=None, rpar=None)
