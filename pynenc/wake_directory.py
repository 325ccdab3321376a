"""The socket directory of :mod:`pynenc.file_wakeup`: names, modes, addresses, datagrams.

A directory path too long for a socket address (``sun_path``: 108 bytes) is opened, and
its sockets are addressed as ``/proc/self/fd/<fd>/<name>``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence

#: Longest socket path ``bind``/``sendto`` take (``sun_path`` is 108 bytes with its NUL).
MAX_ADDRESS = 107
#: A list of ids is split over datagrams of about this many bytes.
DATAGRAM_BYTES = 4096
#: A listener's socket name: ``<pid>-<8 hex digits>``.
NAME = re.compile(r"\d+-[0-9a-f]{8}")


def encode(topic: str, items: Sequence[str] | None) -> list[bytes]:
    """The datagrams that carry ``items`` (``None``: one "look again" datagram)."""
    if items is None:
        return [json.dumps([topic, None]).encode()]
    datagrams: list[bytes] = []
    chunk: list[str] = []
    size = 0
    for item in items:
        if chunk and size + len(item) > DATAGRAM_BYTES:
            datagrams.append(json.dumps([topic, chunk]).encode())
            chunk, size = [], 0
        chunk.append(item)
        size += len(item) + 4
    if chunk:
        datagrams.append(json.dumps([topic, chunk]).encode())
    return datagrams


class SocketDirectory:
    """The socket directory, opened for one use: names, addresses and removal in it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> SocketDirectory:
        # A path too long for a socket address is reached through an open descriptor.
        if len(os.fsencode(self.path)) + 18 > MAX_ADDRESS:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def others(self, own: str | None) -> list[str]:
        """The socket names in the directory, but ours."""
        names = os.listdir(self.path if self.fd is None else self.fd)
        return [name for name in names if name != own and NAME.fullmatch(name)]

    def stat(self, name: str) -> os.stat_result:
        """``name`` in the directory (``"."``: the directory itself)."""
        return os.stat(name if self.fd is not None else f"{self.path}/{name}", dir_fd=self.fd)

    def chmod(self, name: str, mode: int) -> None:
        os.chmod(name if self.fd is not None else f"{self.path}/{name}", mode, dir_fd=self.fd)

    def address(self, name: str) -> str:
        if self.fd is None:
            return f"{self.path}/{name}"
        return f"/proc/self/fd/{self.fd}/{name}"

    def remove(self, name: str) -> None:
        try:
            if self.fd is None:
                os.unlink(f"{self.path}/{name}")
            else:
                os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass  # removed by another process meanwhile
