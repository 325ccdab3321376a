"""The client data store: large serialized arguments and results kept once, by content.

A serialized argument (or result) of ``client_data_store.min_size`` characters or more is
stored in the state backend under its SHA-256 (value namespace ``cds``, written only when
absent), and the message and the invocation record carry a short reference instead. One
20 MB argument fanned out to 100 calls is written once, and each message stays small.

References are values no serializer output can be mistaken for: a reference is
``"\\x00cds:sha256:<64 hex>"``, and a real serialized value that happens to start with NUL
(no built-in serializer writes one) travels with one more NUL in front, taken off again when
decoded. Both sides of a claim hash the arguments as they travel, references included, so
the claim compares references, never blobs.

Readers resolve references when decoding, through a per-process cache (least recently used
out first, ``client_data_store.cache_size`` characters): a runner process reads a value once
for a whole fan-out, and concurrent threads wanting the same value wait for one read. Each
value read from the backend is checked against its hash. A reference whose value is gone
(purged, or lost by the backend) fails the invocation with :class:`ClientDataStoreError`.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from pynenc.exceptions import ClientDataStoreError

if TYPE_CHECKING:
    from pynenc.app import Pynenc

logger = logging.getLogger("pynenc.client_data_store")

#: The value namespace of stored blobs (key: the SHA-256 of the text, hex).
NAMESPACE = "cds"
#: First character of every reference and escaped value (never first in JSON or base64).
MARK = "\x00"
#: A reference is this prefix and 64 hex digits.
REFERENCE = MARK + "cds:sha256:"
_REFERENCE_LENGTH = len(REFERENCE) + 64
_NEVER = sys.maxsize


def digest(text: str) -> str:
    """The SHA-256 of ``text``'s UTF-8 bytes, hex (lone surrogates kept, as stored)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def is_reference(text: str) -> bool:
    """Whether ``text`` (as it travels) is a reference to a stored value."""
    return len(text) == _REFERENCE_LENGTH and text.startswith(REFERENCE)


class BlobCache:
    """A per-process LRU of stored values by hash, bounded in characters; concurrent
    misses of one hash wait for a single read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, str] = OrderedDict()
        self._size = 0
        self._loading: dict[str, threading.Event] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get_or_load(
        self,
        hashes: Sequence[str],
        load: Callable[[list[str]], dict[str, str]],
        max_size: int,
    ) -> dict[str, str]:
        """The values of ``hashes`` found (cached, or read by ``load``, one call for all
        misses); ``load`` returns only what it found."""
        found: dict[str, str] = {}
        mine: list[str] = []
        theirs: list[tuple[str, threading.Event]] = []
        with self._lock:
            for key in dict.fromkeys(hashes):
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
                elif key in self._loading:
                    theirs.append((key, self._loading[key]))
                else:
                    self._loading[key] = threading.Event()
                    mine.append(key)
        try:
            if mine:
                loaded = load(mine)
                found.update(loaded)
                with self._lock:
                    for key, text in loaded.items():
                        self._keep(key, text, max_size)
        finally:
            with self._lock:
                events = [self._loading.pop(key) for key in mine]
            for event in events:
                event.set()
        late: list[str] = []
        for key, event in theirs:
            event.wait()
            with self._lock:
                cached = self._items.get(key)
            if cached is None:  # too large to keep, evicted already, or that read failed
                late.append(key)
            else:
                found[key] = cached
        if late:
            found.update(load(late))
        return found

    def _keep(self, key: str, text: str, max_size: int) -> None:
        if len(text) > max_size or key in self._items:
            return
        self._items[key] = text
        self._size += len(text)
        while self._size > max_size:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)


class ClientDataStore:
    """An app's client data store: turns large serialized values into references on the
    way out, and references back into values on the way in."""

    def __init__(self, app: Pynenc) -> None:
        self.app = app
        self.cache = BlobCache()
        self._conf = app.conf.client_data_store  # a section is never replaced, only changed

    # -- caller side: values out ---------------------------------------------------------

    def externalize(self, serialized: dict[str, str]) -> dict[str, str]:
        """``serialized`` arguments as they travel: those of ``min_size`` or more stored
        (one existence check, one write of each value not stored yet), the rest as is.

        :raises StateBackendError: the state backend could not take them.
        """
        conf = self._conf
        limit = conf.min_size if conf.enabled else _NEVER
        for text in serialized.values():
            if len(text) >= limit or text[:1] == MARK:
                break
        else:
            return serialized  # the common case: nothing large, nothing to escape
        large = [name for name, text in serialized.items() if len(text) >= limit]
        references = dict(zip(large, self._store([serialized[n] for n in large]), strict=True))
        return {
            name: references.get(name) or (MARK + text if text[:1] == MARK else text)
            for name, text in serialized.items()
        }

    def externalize_value(self, text: str) -> str:
        """One serialized value (a result) as it travels."""
        conf = self._conf
        if (len(text) < conf.min_size or not conf.enabled) and text[:1] != MARK:
            return text
        return self.externalize({"": text})[""]

    def _store(self, texts: list[str]) -> list[str]:
        hashes = [digest(text) for text in texts]
        unique = dict(zip(hashes, texts, strict=True))
        backend = self.app.state_backend
        present = backend.has_values(NAMESPACE, list(unique))
        for (key, text), there in zip(unique.items(), present, strict=True):
            if not there and not backend.put_value(NAMESPACE, key, text, only_if_absent=True):
                raise ClientDataStoreError(
                    f"The client data store of app {self.app.app_id!r} holds another value "
                    f"under sha256 {key}: the stored value is damaged. Purge the app's state "
                    "or delete that value."
                )
        return [REFERENCE + key for key in hashes]

    # -- reader side: values in ----------------------------------------------------------

    def resolve(self, serialized: Mapping[str, str], what: str = "argument") -> Mapping[str, str]:
        """``serialized`` values as the serializer wrote them: references read (from the
        cache or, one call for all, from the backend), escapes taken off.

        :raises ClientDataStoreError: a referenced value is missing or damaged, naming
            the ``what`` (argument) and why.
        """
        for text in serialized.values():
            if text[:1] == MARK:
                break
        else:
            return serialized  # the common case: no reference, no escape
        wanted: dict[str, str] = {}
        for name, text in serialized.items():
            if text[:1] != MARK or text[1:2] == MARK:
                continue
            if not is_reference(text):
                raise ClientDataStoreError(
                    f"{_label(what, name)} is neither a value nor a client data store "
                    f"reference ({text[:40]!r}…): the message or record is damaged"
                )
            wanted[name] = text[len(REFERENCE) :]
        values = self.cache.get_or_load(list(wanted.values()), self._load, self._conf.cache_size)
        missing = [name for name, key in wanted.items() if key not in values]
        if missing:
            key = wanted[missing[0]]
            raise ClientDataStoreError(
                f"{_label(what, missing[0])} refers to a value of the client data store "
                f"(sha256 {key}) that the state backend of app {self.app.app_id!r} does not "
                "have: it was purged, or lost by the backend (e.g. a Redis restarted without "
                "persistence). Call the task again to store it anew."
            )
        return {
            name: values[wanted[name]] if name in wanted else _unescape(text)
            for name, text in serialized.items()
        }

    def resolve_value(self, text: str) -> str:
        """One travelling value (a result) as the serializer wrote it."""
        if text[:1] != MARK:
            return text
        return self.resolve({"": text}, "the result")[""]

    def _load(self, keys: list[str]) -> dict[str, str]:
        found = {}
        for key, text in zip(keys, self.app.state_backend.get_values(NAMESPACE, keys), strict=True):
            if text is None:
                continue
            if digest(text) != key:
                raise ClientDataStoreError(
                    f"The value stored under sha256 {key} in the client data store of app "
                    f"{self.app.app_id!r} does not have that hash: it is damaged"
                )
            found[key] = text
        if found:
            logger.debug("Read %d values from the client data store", len(found))
        return found


def _label(what: str, name: str) -> str:
    return f"{what[:1].upper()}{what[1:]} {name!r}" if name else what[:1].upper() + what[1:]


def _unescape(text: str) -> str:
    return text[1:] if text[:2] == MARK + MARK else text
