"""The client data store on the in-memory backend: references, escapes, the cache."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from pynenc import Pynenc
from pynenc.client_data_store import (
    NAMESPACE,
    REFERENCE,
    BlobCache,
    ClientDataStore,
    digest,
    is_reference,
)
from pynenc.exceptions import ClientDataStoreError
from pynenc.records import fingerprint
from pynenc.serializer import deserialize_arguments, get_serializer

SMALL = 128  #: the smallest min_size allowed


@pytest.fixture
def store() -> Iterator[ClientDataStore]:
    app = Pynenc(app_id=f"unit-cds-{uuid.uuid4().hex[:8]}")
    app.conf.client_data_store.min_size = SMALL
    yield app.client_data_store
    app.purge()


def test_small_values_travel_as_they_are(store: ClientDataStore) -> None:
    args = {"a": "1", "b": '"x"'}
    assert store.externalize(args) is args  # nothing to do: the very same mapping
    assert store.resolve(args) == args


def test_a_large_value_becomes_a_reference_and_comes_back(store: ClientDataStore) -> None:
    big = '"' + "é" * SMALL + '"'
    travelling = store.externalize({"small": "1", "big": big})
    assert list(travelling) == ["small", "big"] and travelling["small"] == "1"
    assert travelling["big"] == REFERENCE + digest(big) and is_reference(travelling["big"])
    assert store.app.state_backend.get_value(NAMESPACE, digest(big)) == big
    assert store.resolve(travelling) == {"small": "1", "big": big}


def test_equal_values_are_stored_once(store: ClientDataStore) -> None:
    big = "x" * SMALL
    writes: list[str] = []
    backend = store.app.state_backend
    real = backend.put_value
    backend.put_value = lambda ns, key, value, **kw: (
        writes.append(key) or real(ns, key, value, **kw)
    )  # type: ignore[method-assign]
    first = store.externalize({"a": big, "b": big})
    second = store.externalize({"c": big})
    assert first["a"] == first["b"] == second["c"]
    assert writes == [digest(big)]


def test_values_starting_with_nul_are_escaped_never_mistaken(store: ClientDataStore) -> None:
    """A serializer could write a value that looks like a reference: it travels escaped."""
    lookalike = REFERENCE + "0" * 64
    travelling = store.externalize({"a": lookalike, "b": "\x00", "c": "plain"})
    assert travelling == {"a": "\x00" + lookalike, "b": "\x00\x00", "c": "plain"}
    assert store.resolve(travelling) == {"a": lookalike, "b": "\x00", "c": "plain"}
    assert store.resolve_value(store.externalize_value("\x00x")) == "\x00x"


def test_disabled_store_keeps_values_inline(store: ClientDataStore) -> None:
    store.app.conf.client_data_store.enabled = False
    big = "x" * SMALL * 4
    assert store.externalize({"a": big}) == {"a": big}
    assert store.externalize({"a": "\x00"}) == {"a": "\x00\x00"}  # escaping never stops


def test_the_fingerprint_of_a_call_hashes_the_reference(store: ClientDataStore) -> None:
    big = "y" * SMALL * 4
    travelling = store.externalize({"data": big})
    assert fingerprint(travelling) == fingerprint({"data": REFERENCE + digest(big)})
    assert fingerprint(travelling) != fingerprint({"data": big})


def test_a_missing_value_names_the_argument(store: ClientDataStore) -> None:
    with pytest.raises(ClientDataStoreError, match=r"Argument 'data' refers .* purged"):
        store.resolve({"data": REFERENCE + "1" * 64})
    with pytest.raises(ClientDataStoreError, match=r"The result refers"):
        store.resolve_value(REFERENCE + "1" * 64)


def test_a_damaged_value_or_marker_is_refused(store: ClientDataStore) -> None:
    key = digest("the real value")
    store.app.state_backend.put_value(NAMESPACE, key, "something else")
    with pytest.raises(ClientDataStoreError, match="damaged"):
        store.resolve({"a": REFERENCE + key})
    with pytest.raises(ClientDataStoreError, match="neither a value nor"):
        store.resolve({"a": "\x00cds:md5:abc"})


def test_decoding_goes_through_the_serializer(store: ClientDataStore) -> None:
    serializer = get_serializer("json")
    big = list(range(200))
    travelling = store.externalize({"numbers": serializer.dumps(big)})
    assert is_reference(travelling["numbers"])
    assert deserialize_arguments(serializer, store.resolve(travelling)) == {"numbers": big}


def test_the_cache_reads_a_value_once(store: ClientDataStore) -> None:
    travelling = store.externalize({"a": "x" * SMALL})
    reads: list[object] = []
    backend = store.app.state_backend
    real = backend.get_values
    backend.get_values = lambda ns, keys: reads.append(keys) or real(ns, keys)  # type: ignore[method-assign]
    for _ in range(5):
        store.resolve(travelling)
    assert len(reads) == 1


# -- BlobCache -------------------------------------------------------------------------------


def test_lru_keeps_the_most_recent_within_its_size() -> None:
    cache = BlobCache()
    loads: list[list[str]] = []

    def load(keys: list[str]) -> dict[str, str]:
        loads.append(keys)
        return {key: key * 10 for key in keys}

    cache.get_or_load(["a", "b"], load, max_size=25)  # 20 characters kept
    cache.get_or_load(["a"], load, max_size=25)  # a is now the most recent
    cache.get_or_load(["c"], load, max_size=25)  # 30 > 25: b goes
    assert loads == [["a", "b"], ["c"]]
    assert cache.get_or_load(["a", "c"], load, max_size=25) == {"a": "a" * 10, "c": "c" * 10}
    cache.get_or_load(["b"], load, max_size=25)
    assert loads[-1] == ["b"]
    cache.get_or_load(["big"], load, max_size=5)  # larger than the cache: not kept
    cache.get_or_load(["big"], load, max_size=5)
    assert loads[-2:] == [["big"], ["big"]]


def test_concurrent_misses_wait_for_one_read() -> None:
    cache = BlobCache()
    started, release = threading.Event(), threading.Event()
    loads: list[list[str]] = []

    def load(keys: list[str]) -> dict[str, str]:
        loads.append(keys)
        started.set()
        release.wait(10)
        return {key: "value" for key in keys}

    results: list[dict[str, str]] = []
    first = threading.Thread(target=lambda: results.append(cache.get_or_load(["k"], load, 100)))
    first.start()
    assert started.wait(10)
    others = [
        threading.Thread(target=lambda: results.append(cache.get_or_load(["k"], load, 100)))
        for _ in range(4)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert loads == [["k"]]
    assert results == [{"k": "value"}] * 5


def test_a_failed_read_lets_waiters_read_for_themselves() -> None:
    cache = BlobCache()
    calls: list[int] = []

    def failing(keys: list[str]) -> dict[str, str]:
        calls.append(1)
        raise OSError("backend down")

    with pytest.raises(OSError):
        cache.get_or_load(["k"], failing, 100)
    assert cache.get_or_load(["k"], lambda keys: {"k": "v"}, 100) == {"k": "v"}
    assert len(cache) == 1
