"""Hiding secrets in what pynenc shows: URLs with passwords, signing keys.

Everything that prints a configured value (``show-config``, the runner banner, logs, error
messages) goes through these functions, so a password never reaches a terminal or a log.
"""

from __future__ import annotations

from typing import Any

from kombu.utils.url import maybe_sanitize_url

#: What a hidden value is shown as.
HIDDEN = "********"


def scheme_of(url: str) -> str:
    """``redis`` for ``redis://host``; kombu's ``transport+url`` form names the transport."""
    scheme = url.split("://", 1)[0] if "://" in url else url
    return scheme.split("+", 1)[0]


def masked_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    if scheme_of(url) in ("memory", "sqlite"):
        return url  # no credentials; kombu's URL parser would mangle a file path
    try:
        return str(maybe_sanitize_url(url, mask=HIDDEN))
    except Exception:  # unparsable (a bad port…): hide everything before the last "@"
        head, sep, rest = url.partition("://")
        if not sep:
            return HIDDEN
        at = rest.rfind("@")
        return f"{head}://{rest}" if at < 0 else f"{head}://{HIDDEN}{rest[at:]}"


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
