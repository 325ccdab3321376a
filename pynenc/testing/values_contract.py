"""The contract of the value primitives of a state backend (``put_value``, ``get_values``,
``has_values``, ``delete_value``), as pytest suites.

Subclass :class:`ValuesContract` with a ``backend_url`` fixture (the URL of a fresh, empty
store; its scheme registered with :func:`pynenc.state_backend.register_backend`), and
:class:`CrossProcessValuesContract` too for a backend with ``capabilities.cross_process``::

    import pytest
    from pynenc.testing.values_contract import CrossProcessValuesContract, ValuesContract

    class TestMyStoreValues(ValuesContract, CrossProcessValuesContract):
        @pytest.fixture
        def backend_url(self, tmp_path):
            return f"mystore:///{tmp_path}/state"

Several-process tests spawn children that rebuild the backend from its URL after
registering its scheme (its module must be importable there). Needs pytest
(``pip install pynenc[testing]``); ``import pynenc`` never imports this module.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc.state_backend import StateBackend, create_state_backend
from pynenc.testing.state_backend_contract import open_backend
from pynenc.testing.state_backend_cross_process import Where, _open, _where

NS = "contract"


class ValuesContract:
    """Behaviour of the value primitives every state backend must have; subclass it with a
    ``backend_url`` fixture (or override ``backend``). Each test starts on an empty store of
    its own app id."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_put_and_get(self, backend: StateBackend) -> None:
        assert backend.get_value(NS, "k") is None
        assert backend.put_value(NS, "k", "v1")
        assert backend.get_value(NS, "k") == "v1"
        assert backend.put_value(NS, "k", "v2")  # overwrites
        assert backend.get_value(NS, "k") == "v2"

    def test_only_if_absent_keeps_what_is_there(self, backend: StateBackend) -> None:
        assert backend.put_value(NS, "k", "first", only_if_absent=True)
        assert not backend.put_value(NS, "k", "second", only_if_absent=True)
        assert backend.get_value(NS, "k") == "first"
        # the very same value again (a retried write, the same content): counts as written
        assert backend.put_value(NS, "k", "first", only_if_absent=True)
        # same length, other bytes: refused
        assert not backend.put_value(NS, "k", "firsT", only_if_absent=True)

    def test_empty_value_is_a_value(self, backend: StateBackend) -> None:
        assert backend.put_value(NS, "k", "")
        assert backend.get_value(NS, "k") == ""
        assert backend.has_values(NS, ["k"]) == [True]
        assert not backend.put_value(NS, "k", "x", only_if_absent=True)
        assert backend.delete_value(NS, "k", expected="")

    def test_get_values_in_order(self, backend: StateBackend) -> None:
        backend.put_value(NS, "a", "1")
        backend.put_value(NS, "b", "2")
        assert backend.get_values(NS, ["b", "missing", "a", "b"]) == ["2", None, "1", "2"]
        assert backend.get_values(NS, []) == []

    def test_many_keys_at_once(self, backend: StateBackend) -> None:
        keys = [f"key-{i}" for i in range(2500)]  # beyond any backend's chunk size
        for key in keys[::2]:
            backend.put_value(NS, key, key.upper())
        values = backend.get_values(NS, keys)
        assert values == [key.upper() if i % 2 == 0 else None for i, key in enumerate(keys)]
        assert backend.has_values(NS, keys) == [i % 2 == 0 for i in range(len(keys))]

    def test_has_values(self, backend: StateBackend) -> None:
        backend.put_value(NS, "a", "1")
        assert backend.has_values(NS, ["a", "b", "a"]) == [True, False, True]
        assert backend.has_values(NS, []) == []

    def test_delete(self, backend: StateBackend) -> None:
        assert not backend.delete_value(NS, "k")
        backend.put_value(NS, "k", "v")
        assert backend.delete_value(NS, "k")
        assert backend.get_value(NS, "k") is None
        assert not backend.delete_value(NS, "k")

    def test_compare_and_delete(self, backend: StateBackend) -> None:
        backend.put_value(NS, "k", "mine")
        assert not backend.delete_value(NS, "k", expected="theirs")
        assert backend.get_value(NS, "k") == "mine"
        assert backend.delete_value(NS, "k", expected="mine")
        assert backend.get_value(NS, "k") is None
        assert not backend.delete_value(NS, "k", expected="mine")

    def test_namespaces_and_keys_are_apart(self, backend: StateBackend) -> None:
        backend.put_value("one", "a:b", "1")
        backend.put_value("two", "a:b", "2")
        assert backend.get_value("one", "a:b") == "1"
        assert backend.get_value("two", "a:b") == "2"
        assert backend.get_value("one", "a") is None
        backend.delete_value("one", "a:b")
        assert backend.get_value("two", "a:b") == "2"

    @pytest.mark.parametrize("namespace", ["", "a:b"])
    def test_a_bad_namespace_is_refused(self, backend: StateBackend, namespace: str) -> None:
        with pytest.raises(ValueError, match="namespace"):
            backend.put_value(namespace, "k", "v")
        with pytest.raises(ValueError, match="namespace"):
            backend.get_values(namespace, ["k"])
        with pytest.raises(ValueError, match="namespace"):
            backend.has_values(namespace, ["k"])
        with pytest.raises(ValueError, match="namespace"):
            backend.delete_value(namespace, "k")

    def test_text_comes_back_exactly(self, backend: StateBackend) -> None:
        """Non-ASCII text, control characters, a NUL and a lone surrogate (JSON text may
        hold one) come back as they were, as values and as keys."""
        value = "caf\u00e9 \U0001f600 \x00\n\ud800 end"
        backend.put_value(NS, "k\u00e9\ud800", value)
        assert backend.get_value(NS, "k\u00e9\ud800") == value
        assert backend.put_value(NS, "k\u00e9\ud800", value, only_if_absent=True)
        assert backend.delete_value(NS, "k\u00e9\ud800", expected=value)

    def test_large_values(self, backend: StateBackend) -> None:
        big = "x" * (20 * 1024 * 1024) + "\u00e9"
        assert backend.put_value(NS, "big", big, only_if_absent=True)
        assert backend.get_value(NS, "big") == big
        assert backend.put_value(NS, "big", big, only_if_absent=True)  # the same content
        assert backend.has_values(NS, ["big"]) == [True]

    def test_apps_do_not_share_values(self, backend: StateBackend) -> None:
        other = create_state_backend(backend.url, f"contract-{uuid.uuid4().hex[:8]}")
        try:
            backend.put_value(NS, "k", "mine")
            assert other.get_value(NS, "k") is None
            assert other.put_value(NS, "k", "theirs", only_if_absent=True)
            assert backend.get_value(NS, "k") == "mine"
        finally:
            other.purge()
            other.close()

    def test_purge_drops_values(self, backend: StateBackend) -> None:
        backend.put_value(NS, "k", "v")
        backend.put_value("other", "k", "v")
        backend.purge()
        assert backend.get_values(NS, ["k"]) == [None]
        assert backend.has_values("other", ["k"]) == [False]

    def test_one_writer_wins_among_threads(self, backend: StateBackend) -> None:
        wins: list[str] = []
        barrier = threading.Barrier(8)

        def put(name: str) -> None:
            barrier.wait()
            if backend.put_value(NS, "race", name, only_if_absent=True):
                wins.append(name)

        threads = [threading.Thread(target=put, args=(f"w{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1
        assert backend.get_value(NS, "race") == wins[0]


def _child_put(where: Where, name: str, barrier: Any, out: Any) -> None:
    backend = _open(where)
    barrier.wait(30)
    put = backend.put_value(NS, "race", name, only_if_absent=True)
    dropped = backend.delete_value(NS, "token", expected=name)
    out.put((name, put, dropped))
    backend.close()


class CrossProcessValuesContract:
    """The value primitives stay atomic between processes (for a backend with
    ``capabilities.cross_process``); subclass it with a ``backend_url`` fixture."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_one_writer_and_one_deleter_win_among_processes(self, backend: StateBackend) -> None:
        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(4), ctx.Queue()
        names = [f"p{i}" for i in range(4)]
        backend.put_value(NS, "token", "p2")  # only p2's compare-and-delete matches
        children = [
            ctx.Process(target=_child_put, args=(_where(backend), n, barrier, out)) for n in names
        ]
        for child in children:
            child.start()
        results = [out.get(timeout=60) for _ in children]
        for child in children:
            child.join(30)
        winners = [name for name, put, _ in results if put]
        assert len(winners) == 1
        assert backend.get_value(NS, "race") == winners[0]
        assert sorted(name for name, _, dropped in results if dropped) == ["p2"]
        assert backend.get_value(NS, "token") is None
