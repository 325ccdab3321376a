"""Checks shared by the URL options (``broker_url``, ``state_backend_url``).

A component checks its URL when it is built, before it connects: a wrong one raises
:class:`~pynenc.exceptions.ConfigError` naming the option, the value (password masked),
what is wrong with it and the forms that work — never a bare ``KeyError`` or ``ValueError``
from deep inside a client library.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from urllib.parse import urlsplit

from pynenc.conf.masking import masked_url
from pynenc.exceptions import ConfigError


def url_error(option: str, url: str, problem: str, forms: str) -> ConfigError:
    """The error for a bad value of URL option ``option``."""
    shown = masked_url(url)
    return ConfigError(
        f"Invalid {option} {shown!r}: {problem}. Valid forms: {forms}. "
        f"Set {option} (environment variable PYNENC__{option.upper()})."
    )


def did_you_mean(scheme: str, schemes: Iterable[str]) -> str:
    """`` (did you mean 'redis://'?)`` for a misspelt scheme, else ``""``."""
    close = difflib.get_close_matches(scheme.lower(), sorted(schemes), n=1)
    return f" (did you mean '{close[0]}://'?)" if close else ""


def check_host_and_port(option: str, url: str, forms: str) -> None:
    """A server URL names a host, and a port that is a number (when it has one)."""
    if "://" not in url:
        raise url_error(option, url, "it is not a URL (no '://')", forms)
    parts = urlsplit(url)
    if "@" in url.partition("://")[2][len(parts.netloc) :]:
        raise url_error(
            option,
            url,
            "an '@' comes after a '/', '?' or '#': a user name or password holding one of "
            "these must be percent-encoded ('/' as %2F, '?' as %3F, '#' as %23)",
            forms,
        )
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        raise url_error(
            option, url, f"the port {port!r} is not a number from 0 to 65535", forms
        ) from None
    if not parts.hostname:
        raise url_error(
            option, url, "it names no host (e.g. 127.0.0.1 or localhost for a local server)", forms
        )


def check_database_number(option: str, url: str, forms: str) -> None:
    """A Redis URL's path, if any, is a database number (``/0``)."""
    database = urlsplit(url).path.strip("/")
    if database and not database.isdigit():
        raise url_error(option, url, f"the database {database!r} is not a number", forms)
