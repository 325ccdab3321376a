"""Hiding secrets in what pynenc shows: URLs with passwords, signing keys.

Everything that prints a configured value (``show-config``, the runner banner, logs, error
messages) goes through these functions, so a password never reaches a terminal or a log.
"""

from __future__ import annotations

from typing import Any

#: What a hidden value is shown as.
HIDDEN = "********"


def scheme_of(url: str) -> str:
    """``redis`` for ``redis://host``; kombu's ``transport+url`` form names the transport."""
    scheme = url.split("://", 1)[0] if "://" in url else url
    return scheme.split("+", 1)[0]


def masked_url(url: str) -> str:
    """The URL with its password masked, for messages and logs; otherwise as written.

    Everything before the last ``@`` is credentials: a password holding an unencoded
    ``/``, ``?`` or ``#`` (which URL parsers take for the end of the host part) is hidden
    whole too. kombu's ``url1;url2`` fail-over form is masked URL by URL.
    """
    if ";" in url:
        return ";".join(masked_url(part) for part in url.split(";"))
    head, sep, rest = url.partition("://")
    if not sep or scheme_of(url) in ("memory", "sqlite") or "@" not in rest:
        return url  # no credentials (a file path, for SQLite)
    credentials, _, location = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    if not colon:
        return url  # a user name alone is no secret
    shown = HIDDEN if any(c in user for c in "/?#") else f"{user}:{HIDDEN}"
    return f"{head}://{shown}@{location}"


def masked_urls(value: Any) -> Any:
    """:func:`masked_url` for an option holding a URL (``None`` and non-strings as they are)."""
    return masked_url(value) if isinstance(value, str) else value


def hidden(value: Any) -> Any:
    """A secret shown as :data:`HIDDEN` when set (empty values stay visible as empty)."""
    if value in (None, "", [], ()):
        return value
    if isinstance(value, (list, tuple)):
        return [HIDDEN for _ in value]
    return HIDDEN
