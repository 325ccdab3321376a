"""``pynenc cancel ID``: cancel an invocation (stored: every runner honours it).

Exits 0 when this command cancelled it, 3 when it had already finished (nothing changed),
1 when the invocation is unknown or the state backend cannot be reached.
"""

from __future__ import annotations

import getpass
import os
import socket

import click

from pynenc.cli.common import load
from pynenc.exceptions import PynencError

#: ``cancel`` exits with this code when the invocation had already finished.
EXIT_ALREADY_FINISHED = 3


@click.command("cancel")
@click.argument("invocation_id")
@click.option("--reason", default=None, help="Why, kept in the history and the error.")
@click.pass_context
def cancel(ctx: click.Context, invocation_id: str, reason: str | None) -> None:
    """Cancel an invocation unless it has finished.

    Not started: it never runs. Running: a process runner kills it; in a thread runner the
    task stops at its next invocation.checkpoint(). Waiters get InvocationCancelledError.
    Exits 0 when cancelled, 3 when it had already finished (nothing changed), 1 on error.
    """
    app = load(ctx)
    try:
        answer = app.orchestrator.cancel(invocation_id, by=_who(), reason=reason)
    except PynencError as exc:  # unknown, or the state backend unreachable
        raise click.ClickException(str(exc)) from exc
    click.echo(answer.message)
    if not answer.cancelled:
        ctx.exit(EXIT_ALREADY_FINISHED)


def _who(command: str = "pynenc cancel") -> str:
    """The canceller named in the history: ``pynenc cancel (user@host, pid N)``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (a bare container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return f"{command} ({user}@{socket.gethostname()}, pid {os.getpid()})"
