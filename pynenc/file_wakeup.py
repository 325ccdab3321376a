"""Wake the processes that wait on a shared file (an SQLite database) when another changed it.

SQLite has no cross-process signal. A process that waits for something to appear in a
database file (the SQLite state backend's ``wait_final``, the ``sqlite://`` broker's
consumers) **listens**: it binds one Unix datagram socket per file, named
``<pid>-<random>``, in the directory ``<file>-wake/`` beside the file, and a daemon thread of
its own reads it. While one of its threads waits, the process **arms** its socket: it sets
the owner's execute bit of the socket file (a bit sockets do not use). A process that
changed the file **sends**, after its commit, one datagram per topic to every armed socket
in that directory: a topic (``"broker"``, ``"state:<app id>"``) and a list of ids (the
invocations that ended), or ``None`` ("look again at everything"). A process that waits for
nothing gets nothing: a busy consumer, a caller that is only publishing.

Why no wake-up is lost:

- A waiter arms its socket *before* it reads the file, and a writer looks at the sockets
  *after* its commit: a waiter whose read missed the commit is armed in the writer's view.
- A datagram to a reader whose queue is full is dropped (``EAGAIN``; Linux queues
  ``net.unix.max_dgram_qlen`` datagrams, 10 by default). The queue was full, so its reader
  takes more than that many datagrams before it next blocks: when it does, it also hands
  every topic ``None``, and the waiters read again.
- Whatever else goes wrong (a writer of an older version, a send that fails), the waiters
  of both users still re-read at a bounded interval: this only makes that interval long.

A process killed without cleaning up leaves its socket file behind: sending to it is refused
(``ECONNREFUSED``) and the sender removes it, and a process that starts listening first
sweeps the directory the same way. A process that exits normally removes its own (at exit,
and at the end of a ``multiprocessing`` child). A forked child closes the socket it inherited
(it belongs to the parent) and listens anew if it waits.

Linux only: elsewhere, or where no socket can be made (an unwritable directory, a file
system without sockets), :meth:`FileWakeup.listen` returns ``False`` after one log line and
the caller polls as before. Sending never raises.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import secrets
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing import util as mp_util

from pynenc.wake_directory import SocketDirectory, encode

logger = logging.getLogger("pynenc.file_wakeup")

#: Whether this platform can listen at all (elsewhere, waiters poll).
SUPPORTED = sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX")
#: The directory of a file's sockets is the file's path with this suffix.
SUFFIX = "-wake"
#: How long after the socket directory's last change its listing is trusted (nanoseconds;
#: well above the tick of the clock that stamps changes).
STABLE_NS = 50_000_000
#: The mode bit of a socket file that says "a thread of its process waits: wake it".
ARMED = stat.S_IXUSR
_RECEIVE_BYTES = 1 << 20

#: Called on the reader thread with the ids of a datagram, or ``None``: look at everything.
Handler = Callable[[list[str] | None], None]


def _queue_limit() -> int:
    """How many datagrams a socket queues before a sender gets ``EAGAIN``."""
    try:
        with open("/proc/sys/net/unix/max_dgram_qlen") as file:
            return max(1, int(file.read()))
    except (OSError, ValueError):
        return 10  # the kernel's default


class FileWakeup:
    """The wake-ups of one file, in this process: its listening socket and its sender."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.directory = path + SUFFIX
        self._lock = threading.Lock()
        self._handlers: dict[str, Handler] = {}
        self._socket: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._name: str | None = None  #: our socket's file name, while listening
        self._mode = 0  #: our socket file's mode, disarmed
        self._armed = 0  #: how many threads of this process wait (arm) now
        #: the directory's modification time, when it was listed, and the names then
        self._cache: tuple[int, int, list[str]] | None = None
        self._unavailable = not SUPPORTED  #: listening failed here once: do not try again

    @property
    def listening(self) -> bool:
        return self._socket is not None

    def listen(self, topic: str, handler: Handler) -> bool:
        """Have ``handler`` called for each datagram of ``topic`` other processes send;
        ``False`` when this process cannot listen (the caller polls instead).

        The first handler of a topic stays. Call it before reading what you wait for.
        """
        if topic in self._handlers:  # the fast path of every wait after the first
            return self._socket is not None
        with self._lock:
            self._handlers.setdefault(topic, handler)
            if self._socket is None and not self._unavailable:
                self._start()
            return self._socket is not None

    def _start(self) -> None:
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.makedirs(self.directory, exist_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            try:
                with SocketDirectory(self.directory) as directory:
                    sock.bind(directory.address(name))
                    try:
                        self._mode = self._check_modes(directory, name)
                    except OSError:
                        directory.remove(name)
                        raise
            except BaseException:
                sock.close()
                raise
        except OSError as exc:
            self._unavailable = True
            logger.warning(
                "No wake-ups for %s in this process: cannot make a socket in %s (%s); "
                "waiters poll the file instead",
                self.path,
                self.directory,
                exc,
            )
            return
        self._socket, self._name = sock, name
        self._sweep()
        threading.Thread(
            target=self._read,
            args=(sock, _queue_limit()),
            name=f"pynenc-wakeup-{os.path.basename(self.path)}",
            daemon=True,
        ).start()
        # multiprocessing children end with os._exit (no atexit): clean up there too
        mp_util.Finalize(self, _close_in, args=(self, os.getpid()), exitpriority=0)

    def _check_modes(self, directory: SocketDirectory, name: str) -> int:
        """The socket's mode, disarmed, once arming it showed (a file system that keeps no
        modes would hide from senders a process that waits)."""
        mode = stat.S_IMODE(directory.stat(name).st_mode) & ~ARMED
        for armed in (True, False):
            directory.chmod(name, mode | ARMED if armed else mode)
            if bool(directory.stat(name).st_mode & ARMED) != armed:
                raise OSError(f"its file system ignores the mode bits of {name}")
        if self._armed > 0:
            directory.chmod(name, mode | ARMED)
        return mode

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Have other processes' sends reach this process while inside (call :meth:`listen`
        first, then read what you wait for inside the block)."""
        self.arm()
        try:
            yield
        finally:
            self.disarm()

    def arm(self) -> None:
        """One more thread waits: senders send to this process from now on."""
        self._count(1)

    def disarm(self) -> None:
        """A thread stopped waiting (once per :meth:`arm`)."""
        self._count(-1)

    def _count(self, delta: int) -> None:
        with self._lock:  # two threads' mode changes never cross
            was = self._armed > 0
            self._armed = max(0, self._armed + delta)  # a disarm in a child after a fork
            if self._name is None or was == (self._armed > 0):
                return
            try:
                with SocketDirectory(self.directory) as directory:
                    self._chmod(directory, not was)
            except OSError as exc:
                logger.debug("Cannot (dis)arm %s/%s: %r", self.directory, self._name, exc)

    def _chmod(self, directory: SocketDirectory, armed: bool) -> None:
        assert self._name is not None
        directory.chmod(self._name, self._mode | ARMED if armed else self._mode)

    def _sweep(self) -> None:
        """Remove the sockets of processes that died without removing theirs."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            with SocketDirectory(self.directory) as directory:
                for name in directory.others(self._name):
                    try:
                        probe.connect(directory.address(name))  # sends nothing
                    except ConnectionRefusedError:
                        directory.remove(name)
                    except OSError:
                        continue
        except OSError as exc:
            logger.debug("Sweeping %s failed: %r", self.directory, exc)
        finally:
            probe.close()

    def send(self, topic: str, items: Sequence[str] | None) -> None:
        """Tell every other armed process ``items`` of ``topic`` (``None``: look again)."""
        try:
            with SocketDirectory(self.directory) as directory:
                names = self._listing(directory)
                if not names:
                    return
                datagrams: list[bytes] = []
                for name in names:
                    try:
                        if not directory.stat(name).st_mode & ARMED:
                            continue  # none of its threads waits
                    except FileNotFoundError:
                        continue  # its process has just removed it
                    address = directory.address(name)
                    datagrams = datagrams or encode(topic, items)
                    sender = self._sender_socket()
                    try:
                        for datagram in datagrams:
                            sender.sendto(datagram, address)
                    except BlockingIOError:
                        pass  # its queue is full: its reader looks at everything (see _read)
                    except ConnectionRefusedError:
                        directory.remove(name)  # nobody reads it: its process died
                    except FileNotFoundError:
                        pass  # its process has just removed it
                    except OSError as exc:
                        logger.debug("Cannot wake %s in %s: %r", name, self.directory, exc)
        except FileNotFoundError:
            return  # no process ever listened on this file
        except OSError as exc:
            logger.debug("Cannot wake the listeners of %s: %r", self.path, exc)

    def _listing(self, directory: SocketDirectory) -> list[str]:
        """The other sockets' names: listed again only when the directory changed.

        A change sets the directory's modification time from a coarse clock (a tick of up to
        a few ms). So a listing is trusted only when it was taken ``STABLE_NS`` after the
        last change it saw: any later change then shows as a different time.
        """
        changed = directory.stat(".").st_mtime_ns
        cached = self._cache
        if cached is not None and cached[0] == changed and cached[1] - changed > STABLE_NS:
            return cached[2]
        now = time.time_ns()  # before listing: a change after `now` shows
        names = directory.others(self._name)
        self._cache = (changed, now, names)
        return names

    def _sender_socket(self) -> socket.socket:
        sender = self._sender
        if sender is None:
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sender.setblocking(False)  # a full queue drops the datagram, never blocks us
            self._sender = sender
        return sender

    def _read(self, sock: socket.socket, limit: int) -> None:
        """The reader thread: hand each batch of datagrams to the topics' handlers."""
        while True:
            try:
                received = [sock.recv(_RECEIVE_BYTES)]
            except OSError:
                return  # closed
            if not received[0]:
                return  # shut down by close()
            while True:
                try:
                    received.append(sock.recv(_RECEIVE_BYTES, socket.MSG_DONTWAIT))
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    return
            # more than `limit` taken before blocking again: the queue was full, and a
            # datagram may have been dropped meanwhile
            self._dispatch(received, lost=len(received) > limit)

    def _dispatch(self, received: list[bytes], lost: bool) -> None:
        batches: dict[str, list[str] | None] = dict.fromkeys(self._handlers) if lost else {}
        for datagram in received:
            try:
                topic, items = json.loads(datagram)
            except (ValueError, TypeError):
                logger.debug("Ignored a malformed wake-up datagram in %s", self.directory)
                continue
            if topic not in self._handlers:
                continue
            batch = batches.setdefault(topic, [])
            if items is None:
                batches[topic] = None
            elif batch is not None and isinstance(items, list):
                batch.extend(str(item) for item in items)
        for topic, items in batches.items():
            try:
                self._handlers[topic](items)
            except Exception:
                logger.exception("A wake-up handler of %s failed", self.path)

    def close(self) -> None:
        """Stop listening: remove our socket, end the reader thread."""
        with self._lock:
            sock, name = self._socket, self._name
            self._socket = self._name = None
            self._handlers.clear()
        if sock is None or name is None:
            return
        try:
            with SocketDirectory(self.directory) as directory:
                directory.remove(name)
        except OSError:
            pass  # the directory is gone: nothing left to remove
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread's recv
        sock.close()

    def _forget_after_fork(self) -> None:
        # In a forked child: the socket and its file belong to the parent.
        for sock in (self._socket, self._sender):
            if sock is not None:
                sock.close()
        self._socket = self._sender = self._name = None
        self._armed = 0  # the parent's waiting threads do not exist here


_channels: dict[str, FileWakeup] = {}
_channels_lock = threading.Lock()


def wakeup_of(path: str) -> FileWakeup:
    """This process's wake-ups of the file at ``path`` (an absolute path)."""
    channel = _channels.get(path)
    if channel is None:
        with _channels_lock:
            channel = _channels.setdefault(path, FileWakeup(path))
    return channel


def _close_in(channel: FileWakeup, pid: int) -> None:
    if os.getpid() == pid:
        channel.close()


def _close_all() -> None:
    for channel in list(_channels.values()):
        channel.close()


def _after_fork_in_child() -> None:
    global _channels_lock
    _channels_lock = threading.Lock()  # may have been held by a thread that no longer exists
    for channel in _channels.values():
        channel._forget_after_fork()
    _channels.clear()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):  # not on Windows, where nothing listens anyway
    os.register_at_fork(after_in_child=_after_fork_in_child)
