"""Pacing per channel, on a fake clock: no test here sleeps."""

from __future__ import annotations

import asyncio

from graphgate.testing.clock import FakeClock
from graphgate.workers.pacer import Pacer


def test_calls_into_a_channel_are_spaced_and_channels_are_independent() -> None:
    clock = FakeClock()
    pacer = Pacer(0.2, clock=clock, sleep=clock.sleep)

    async def scenario() -> list[float]:
        times = []
        for _ in range(3):
            await pacer.turn("c1")
            times.append(clock())
        await pacer.turn("c2")  # another channel is not held up by c1
        times.append(clock())
        return times

    start = clock()
    assert [round(t - start, 3) for t in asyncio.run(scenario())] == [0.0, 0.2, 0.4, 0.4]


def test_a_hold_delays_the_next_turn_and_until_free_takes_no_slot() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)

    async def scenario() -> tuple[float, float, float]:
        await pacer.turn("c")
        pacer.hold("c", 30)  # a Retry-After
        assert round(pacer.free_in("c"), 3) == 30
        start = clock()
        await pacer.until_free("c")
        free = clock() - start
        await pacer.turn("c")  # until_free took no slot: the turn is at once
        turn = clock() - start
        await pacer.turn("c")
        return free, turn, clock() - start

    assert [round(t, 3) for t in asyncio.run(scenario())] == [30.0, 30.0, 31.0]


def test_a_hold_that_arrives_while_waiting_for_a_slot_is_waited_out_too() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)

    async def scenario() -> float:
        await pacer.turn("c")
        waiter = asyncio.create_task(pacer.turn("c"))  # its slot is 1 s away
        await asyncio.sleep(0)
        pacer.hold("c", 10)  # meanwhile another lane's call was rate limited
        await waiter
        return clock()

    start = clock()
    assert asyncio.run(scenario()) - start >= 10


def test_idle_channels_are_forgotten() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    asyncio.run(pacer.turn("old"))
    clock.now += 600
    pacer.hold("busy", 5)
    pacer.forget_idle(older_than=300)
    assert pacer.free_in("old") == 0 and "old" not in pacer._next and pacer.free_in("busy") == 5
