"""How a runner's consumer loop takes messages (:class:`pynenc.runner.intake.Intake`):
as many as it has free slots for; under load (more waiting than slots free) it waits
briefly for more slots and takes more; idle, it never waits."""

from __future__ import annotations

from typing import Any

from pynenc.runner.intake import CLAIM_LINGER, Intake


class _Consumer:
    """Hands out numbered deliveries from a queue of ``ready`` ones (a stand-in)."""

    def __init__(self, ready: int) -> None:
        self.ready = list(range(ready))
        self.gets: list[tuple[int, float]] = []

    @property
    def waiting(self) -> int:
        return len(self.ready)

    def get(self, limit: int, timeout: float) -> list[Any]:
        self.gets.append((limit, timeout))
        taken, self.ready = self.ready[:limit], self.ready[limit:]
        return taken


class _Slots:
    def __init__(self, free_after: int) -> None:
        self.free_after = free_after
        self.asked: list[tuple[int, float]] = []

    def __call__(self, wanted: int, timeout: float) -> int:
        self.asked.append((wanted, timeout))
        return self.free_after


def test_with_a_slot_for_every_message_it_takes_them_and_never_waits() -> None:
    consumer, slots = _Consumer(ready=3), _Slots(free_after=8)
    intake = Intake(consumer, 8, slots, poll=1.0)  # type: ignore[arg-type]
    assert intake.take(8) == [0, 1, 2]
    assert slots.asked == []
    assert consumer.gets == [(8, 1.0)]


def test_under_load_it_waits_for_more_slots_and_takes_as_many() -> None:
    consumer, slots = _Consumer(ready=8), _Slots(free_after=6)
    intake = Intake(consumer, 8, slots, poll=1.0)  # type: ignore[arg-type]
    assert intake.take(2) == [0, 1, 2, 3, 4, 5]
    assert slots.asked == [(8, CLAIM_LINGER)]  # all it holds, within the prefetch
    assert consumer.gets == [(2, 1.0), (4, 0.0)]  # the rest without waiting
    assert consumer.waiting == 2


def test_the_slots_it_waits_for_are_bounded_by_the_prefetch() -> None:
    consumer, slots = _Consumer(ready=20), _Slots(free_after=1)
    intake = Intake(consumer, 4, slots, poll=1.0)  # type: ignore[arg-type]
    assert intake.take(1) == [0]  # no slot freed up meanwhile: what it had
    assert slots.asked == [(4, CLAIM_LINGER)]


def test_without_a_way_to_wait_for_slots_it_takes_what_is_free() -> None:
    consumer = _Consumer(ready=8)
    intake = Intake(consumer, 8, None, poll=1.0)  # type: ignore[arg-type]
    assert intake.take(2) == [0, 1]
    assert consumer.gets == [(2, 1.0)]
