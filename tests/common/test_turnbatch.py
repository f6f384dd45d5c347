"""TurnBatcher: calls made in one turn of the event loop share one batch."""

from __future__ import annotations

import asyncio

import pytest

from epv_common.turnbatch import TurnBatcher

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Recorder:
    """A batch function that answers each item with its square and notes every batch."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await asyncio.sleep(0.01)  # a round trip
        if self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [i * i for i in items]


async def test_calls_made_together_share_one_batch_and_each_gets_its_own_answer():
    run = Recorder()
    batcher = TurnBatcher(run, max_batch=100)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(10))) == [
        i * i for i in range(10)]
    assert run.batches == [list(range(10))]


async def test_calls_made_one_after_another_go_alone():
    run = Recorder()
    batcher = TurnBatcher(run, max_batch=100)
    assert [await batcher.submit(i) for i in range(3)] == [0, 1, 4]
    assert run.batches == [[0], [1], [2]]


async def test_a_full_batch_starts_the_next_one():
    run = Recorder()
    batcher = TurnBatcher(run, max_batch=4)
    assert len(await asyncio.gather(*(batcher.submit(i) for i in range(10)))) == 10
    assert run.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_calls_made_while_a_batch_is_in_flight_form_the_next_batch():
    run = Recorder()
    batcher = TurnBatcher(run, max_batch=100)
    first = asyncio.gather(*(batcher.submit(i) for i in range(3)))
    await asyncio.sleep(0.005)  # the first batch is waiting for its answer
    second = asyncio.gather(*(batcher.submit(i) for i in range(3, 5)))
    assert await first == [0, 1, 4] and await second == [9, 16]
    assert run.batches == [[0, 1, 2], [3, 4]]


async def test_a_failed_batch_fails_each_of_its_calls_and_only_those():
    run = Recorder(fail_on=1)
    batcher = TurnBatcher(run, max_batch=100)
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                    return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert await batcher.submit(5) == 25


async def test_a_batch_answering_the_wrong_number_of_results_is_an_error_for_each_call():
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    batcher = TurnBatcher(short, max_batch=100)
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                    return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)


async def test_a_cancelled_caller_leaves_the_others_answered():
    run = Recorder()
    batcher = TurnBatcher(run, max_batch=100)
    tasks = [asyncio.create_task(batcher.submit(i)) for i in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[0] == 0 and done[2] == 4
    assert isinstance(done[1], asyncio.CancelledError)


async def test_closing_waits_for_the_batches_in_flight():
    run = Recorder()
    batcher = TurnBatcher(run, max_batch=100)
    pending = asyncio.ensure_future(batcher.submit(7))
    await asyncio.sleep(0)
    await batcher.aclose()
    assert pending.done() and pending.result() == 49
