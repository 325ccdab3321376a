"""The contract of the log primitives of a state backend (``append_log``, ``read_log``),
as pytest suites.

Subclass :class:`LogsContract` with a ``backend_url`` fixture (the URL of a fresh, empty
store; its scheme registered with :func:`pynenc.state_backend.register_backend`), and
:class:`CrossProcessLogsContract` too for a backend with ``capabilities.cross_process``::

    import pytest
    from pynenc.testing.logs_contract import CrossProcessLogsContract, LogsContract

    class TestMyStoreLogs(LogsContract, CrossProcessLogsContract):
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

LOG = "contract-log"
#: writers and appends each, in the concurrent tests
WRITERS, APPENDS = 6, 40


def _append_many(backend: StateBackend, values: list[str], max_len: int) -> list[int]:
    return [backend.append_log(LOG, value, max_len) for value in values]


def _check_concurrent(backend: StateBackend, got: dict[str, int], max_len: int) -> None:
    """Every append got its own number, the numbers are 1..n without a gap, and the log
    holds the newest ``max_len`` of them, each under the number its writer was told."""
    total = WRITERS * APPENDS
    assert sorted(got.values()) == list(range(1, total + 1))
    kept = backend.read_log(LOG, 0, total + 10)
    assert [seq for seq, _ in kept] == list(range(max(total - max_len, 0) + 1, total + 1))
    assert all(got[value] == seq for seq, value in kept)
    for writer in range(WRITERS):  # one writer's appends are numbered in its own order
        mine = [got[f"w{writer}:{i}"] for i in range(APPENDS)]
        assert mine == sorted(mine)


class LogsContract:
    """Behaviour of the log primitives every state backend must have; subclass it with a
    ``backend_url`` fixture (or override ``backend``). Each test starts on an empty store of
    its own app id."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_numbers_start_at_one_and_count_up(self, backend: StateBackend) -> None:
        assert [backend.append_log(LOG, f"v{i}", 100) for i in range(5)] == [1, 2, 3, 4, 5]
        assert backend.read_log(LOG, 0, 100) == [(i + 1, f"v{i}") for i in range(5)]

    def test_streams_are_numbered_apart(self, backend: StateBackend) -> None:
        assert backend.append_log("one", "a", 10) == 1
        assert backend.append_log("one", "b", 10) == 2
        assert backend.append_log("two", "c", 10) == 1
        assert backend.read_log("one", 0, 10) == [(1, "a"), (2, "b")]
        assert backend.read_log("two", 0, 10) == [(1, "c")]

    def test_after_and_limit(self, backend: StateBackend) -> None:
        for i in range(1, 8):
            backend.append_log(LOG, str(i), 100)
        assert backend.read_log(LOG, 3, 100) == [(i, str(i)) for i in range(4, 8)]
        assert backend.read_log(LOG, 3, 2) == [(4, "4"), (5, "5")]
        assert backend.read_log(LOG, 0, 1) == [(1, "1")]
        assert backend.read_log(LOG, 6, 100) == [(7, "7")]
        assert backend.read_log(LOG, 7, 100) == []  # nothing after the last
        assert backend.read_log(LOG, 1000, 100) == []
        assert backend.read_log(LOG, -5, 2) == [(1, "1"), (2, "2")]  # below 1: from the start
        assert backend.read_log(LOG, 0, 0) == []
        assert backend.read_log(LOG, 0, -1) == []

    def test_reading_on_from_a_cursor_sees_each_entry_once(self, backend: StateBackend) -> None:
        for i in range(25):
            backend.append_log(LOG, f"e{i}", 1000)
        seen: list[str] = []
        cursor = 0
        while batch := backend.read_log(LOG, cursor, 4):
            seen.extend(value for _, value in batch)
            cursor = batch[-1][0]
        assert seen == [f"e{i}" for i in range(25)]

    def test_many_entries_in_one_read(self, backend: StateBackend) -> None:
        for i in range(2500):  # beyond any backend's chunk size
            backend.append_log(LOG, str(i), 10_000)
        entries = backend.read_log(LOG, 0, 10_000)
        assert entries == [(i + 1, str(i)) for i in range(2500)]
        assert all(type(seq) is int for seq, _ in entries)

    def test_only_the_newest_max_len_are_kept(self, backend: StateBackend) -> None:
        for i in range(1, 11):
            assert backend.append_log(LOG, str(i), 3) == i
        assert backend.read_log(LOG, 0, 100) == [(8, "8"), (9, "9"), (10, "10")]
        assert backend.read_log(LOG, 2, 2) == [(8, "8"), (9, "9")]  # the gap is skipped
        assert backend.read_log(LOG, 8, 100) == [(9, "9"), (10, "10")]

    def test_numbers_are_not_reused_after_trimming(self, backend: StateBackend) -> None:
        for i in range(5):
            backend.append_log(LOG, f"old{i}", 1)
        assert backend.read_log(LOG, 0, 10) == [(5, "old4")]
        assert backend.append_log(LOG, "new", 1) == 6
        assert backend.read_log(LOG, 0, 10) == [(6, "new")]
        assert backend.append_log(LOG, "newer", 100) == 7  # a larger max_len: kept from now
        assert backend.read_log(LOG, 0, 10) == [(6, "new"), (7, "newer")]

    def test_a_smaller_max_len_trims_at_once(self, backend: StateBackend) -> None:
        for i in range(1, 7):
            backend.append_log(LOG, str(i), 100)
        assert backend.append_log(LOG, "7", 2) == 7
        assert backend.read_log(LOG, 0, 100) == [(6, "6"), (7, "7")]

    @pytest.mark.parametrize("max_len", [0, -3])
    def test_max_len_below_one_is_refused(self, backend: StateBackend, max_len: int) -> None:
        backend.append_log(LOG, "kept", 10)
        with pytest.raises(ValueError, match="max_len"):
            backend.append_log(LOG, "v", max_len)
        assert backend.read_log(LOG, 0, 10) == [(1, "kept")]  # nothing appended, nothing lost
        assert backend.append_log(LOG, "next", 10) == 2

    def test_an_unknown_stream_is_empty(self, backend: StateBackend) -> None:
        assert backend.read_log("never-written", 0, 100) == []
        assert backend.read_log("never-written", -1, 100) == []

    @pytest.mark.parametrize("stream", ["", "a:b"])
    def test_a_bad_stream_name_is_refused(self, backend: StateBackend, stream: str) -> None:
        with pytest.raises(ValueError, match="namespace"):
            backend.append_log(stream, "v", 10)
        with pytest.raises(ValueError, match="namespace"):
            backend.read_log(stream, 0, 10)

    def test_streams_and_value_namespaces_are_apart(self, backend: StateBackend) -> None:
        backend.put_value(LOG, "1", "a value")
        backend.append_log(LOG, "an entry", 10)
        assert backend.get_value(LOG, "1") == "a value"
        assert backend.read_log(LOG, 0, 10) == [(1, "an entry")]

    @pytest.mark.parametrize(
        "value",
        [
            "",
            ":",
            "12:34",
            "a:b:c:",
            '["inv-1", "mod.task"]',
            "caf\u00e9 \U0001f600 \x00\n\t end",
            "lone \ud800 surrogate \udfff",
        ],
        ids=["empty", "colon", "digits-colon", "colons", "json", "unicode", "surrogates"],
    )
    def test_values_come_back_exactly(self, backend: StateBackend, value: str) -> None:
        backend.append_log(LOG, value, 10)
        backend.append_log(LOG, value, 10)  # equal values stay two entries
        assert backend.read_log(LOG, 0, 10) == [(1, value), (2, value)]

    def test_large_values(self, backend: StateBackend) -> None:
        big = "x" * (8 * 1024 * 1024) + "\u00e9:"
        assert backend.append_log(LOG, big, 10) == 1
        assert backend.append_log(LOG, "small", 10) == 2
        assert backend.read_log(LOG, 0, 10) == [(1, big), (2, "small")]

    def test_apps_do_not_share_logs(self, backend: StateBackend) -> None:
        other = create_state_backend(backend.url, f"contract-{uuid.uuid4().hex[:8]}")
        try:
            backend.append_log(LOG, "mine", 10)
            backend.append_log(LOG, "mine too", 10)
            assert other.read_log(LOG, 0, 10) == []
            assert other.append_log(LOG, "theirs", 10) == 1
            assert backend.read_log(LOG, 0, 10) == [(1, "mine"), (2, "mine too")]
        finally:
            other.purge()
            other.close()

    def test_purge_drops_logs(self, backend: StateBackend) -> None:
        backend.append_log(LOG, "a", 10)
        backend.append_log(LOG, "b", 10)
        backend.append_log("other", "c", 10)
        backend.purge()
        assert backend.read_log(LOG, 0, 10) == []
        assert backend.read_log("other", 0, 10) == []
        # numbers go on: a reader that kept its cursor through the purge sees what follows
        assert backend.append_log(LOG, "after", 10) == 3
        assert backend.read_log(LOG, 2, 10) == [(3, "after")]
        assert backend.append_log("other", "d", 10) == 2

    @pytest.mark.parametrize("max_len", [10_000, 7])
    def test_concurrent_appends_from_threads(self, backend: StateBackend, max_len: int) -> None:
        got: dict[str, int] = {}
        lock = threading.Lock()
        barrier = threading.Barrier(WRITERS)

        def write(writer: int) -> None:
            values = [f"w{writer}:{i}" for i in range(APPENDS)]
            barrier.wait()
            numbers = _append_many(backend, values, max_len)
            with lock:
                got.update(zip(values, numbers, strict=True))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(got) == WRITERS * APPENDS
        _check_concurrent(backend, got, max_len)


def _child_append(where: Where, writer: int, max_len: int, barrier: Any, out: Any) -> None:
    backend = _open(where)
    values = [f"w{writer}:{i}" for i in range(APPENDS)]
    barrier.wait(60)
    out.put(list(zip(values, _append_many(backend, values, max_len), strict=True)))
    backend.close()


class CrossProcessLogsContract:
    """Appends stay atomic between processes (for a backend with
    ``capabilities.cross_process``); subclass it with a ``backend_url`` fixture."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    @pytest.mark.parametrize("max_len", [10_000, 7])
    def test_concurrent_appends_from_processes(self, backend: StateBackend, max_len: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(WRITERS), ctx.Queue()
        children = [
            ctx.Process(target=_child_append, args=(_where(backend), w, max_len, barrier, out))
            for w in range(WRITERS)
        ]
        for child in children:
            child.start()
        got: dict[str, int] = {}
        for _ in children:
            got.update(out.get(timeout=120))
        for child in children:
            child.join(30)
            assert child.exitcode == 0
        assert len(got) == WRITERS * APPENDS
        _check_concurrent(backend, got, max_len)
