"""Outbox -> relay -> RabbitMQ -> inbox consumer over 10,000 events, beside raw aio-pika
publish-with-confirms -> consume measured in the same run on the same broker.

Goal: the pipeline carries >= 50% of the raw rate; lag p99 < 250 ms at 500 events/s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import datetime

import aio_pika
from sqlalchemy import func, select

from bench.scratch import Pipeline, scratch_pipeline
from bench.stats import report, summary_ms
from epv_common.events.envelope import CloudEvent
from epv_common.testing.backends import Backends, local_backends

EVENTS = 10_000
COMMIT_BATCH = 100
LAG_RATE = 500
LAG_SECONDS = 10
# The consumer's effect: one INSERT per batch (how audit, bound to every event, appends) and
# one INSERT round trip per event (how the low-volume projections apply theirs).
SHAPES = ("batch", "per_event")


def _event() -> CloudEvent:
    subject = str(uuid.uuid4())
    return CloudEvent(
        source="cases",
        type="case.created",
        subject=subject,
        data={"case_id": subject, "owner_id": subject, "name": "bench", "status": "DRAFT", "version": 1},
    )


async def _consumer_process(mode: str, config: dict) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.consumer_side", mode, json.dumps(config),
        stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    while (line := await proc.stdout.readline()) and not line.startswith(b"READY"):
        pass
    return proc


async def _finished_at(proc: asyncio.subprocess.Process) -> tuple[float, float]:
    """(unix time of the last effect, CPU seconds the consumer process spent consuming)."""
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        if line.startswith(b"DONE "):
            await proc.wait()
            _, finished, cpu_s = line.split()
            return float(finished), float(cpu_s)
    raise RuntimeError("the consumer process ended without finishing")


async def raw_baseline(backends: Backends, count: int = EVENTS) -> dict:
    """Persistent messages with confirms (500 in flight) into a quorum queue, consumed with
    acks by another process: the same two-process shape as the pipeline below."""
    prefix = f"benchraw{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect_robust(backends.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(prefix, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(prefix, durable=True,
                                            arguments={"x-queue-type": "quorum"})
        await queue.bind(prefix, routing_key="#")
        consumer = await _consumer_process("raw", {"amqp_url": backends.amqp_url,
                                                   "queue": prefix, "count": count})
        body = _event().to_json()
        started = time.time()
        for offset in range(0, count, 500):
            await asyncio.gather(*(exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 message_id=str(uuid.uuid4())), routing_key="case.created")
                for _ in range(offset, min(count, offset + 500))))
        finished, consumer_cpu_s = await asyncio.wait_for(_finished_at(consumer), 300)
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        return {"events_per_s": round(count / (finished - started), 1),
                "consumer_cpu_us_per_event": round(consumer_cpu_s / count * 1e6, 1)}
    finally:
        await connection.close()


async def _effects(pipeline: Pipeline) -> int:
    async with pipeline.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(pipeline.effects))).scalar_one()


async def _wait_effects(pipeline: Pipeline, target: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while await _effects(pipeline) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await _effects(pipeline)} of {target} effects")
        await asyncio.sleep(0.05)


async def _lags(pipeline: Pipeline) -> list[float]:
    async with pipeline.engine.connect() as conn:
        rows = (await conn.execute(select(pipeline.effects.c.event_time, pipeline.effects.c.at))).all()
    return [(r.at - datetime.fromisoformat(r.event_time)).total_seconds() for r in rows]


async def pipeline_throughput(backends: Backends, shape: str, count: int = EVENTS) -> dict:
    """Producer (commits of 100 events) and relay in this process, as in the producing
    service; the inbox consumer in another process, as in the consuming service."""
    async with scratch_pipeline(backends) as pipeline:
        consumer = await _consumer_process(
            "inbox", {**pipeline.describe(), "count": count, "shape": shape})
        relay = pipeline.relay()
        await relay.start()
        try:
            started = time.time()
            for _ in range(0, count, COMMIT_BATCH):
                async with pipeline.uow() as uow:
                    for _ in range(COMMIT_BATCH):
                        uow.record(_event())
                    await uow.commit()
            committed = time.time() - started
            finished, consumer_cpu_s = await asyncio.wait_for(_finished_at(consumer), 300)
            elapsed = finished - started
        finally:
            await relay.stop()
        return {
            "events_per_s": round(count / elapsed, 1),
            "consumer_cpu_us_per_event": round(consumer_cpu_s / count * 1e6, 1),
            "commit_phase_s": round(committed, 2),
            "total_s": round(elapsed, 2),
        }


async def pipeline_lag(backends: Backends, shape: str) -> dict:
    """Events committed at a steady LAG_RATE per second, 25 per commit every 50 ms."""
    async with scratch_pipeline(backends) as pipeline:
        total = LAG_RATE * LAG_SECONDS
        consumer = await _consumer_process(
            "inbox", {**pipeline.describe(), "count": total, "shape": shape})
        relay = pipeline.relay()
        await relay.start()
        per_tick, tick_s = LAG_RATE // 20, 0.05
        try:
            next_tick = time.perf_counter()
            for _ in range(total // per_tick):
                async with pipeline.uow() as uow:
                    for _ in range(per_tick):
                        uow.record(_event())
                    await uow.commit()
                next_tick += tick_s
                await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
            await asyncio.wait_for(_finished_at(consumer), 300)
            lags = await _lags(pipeline)
        finally:
            await relay.stop()
        return {"rate_events_per_s": LAG_RATE, "events": total, **summary_ms(lags)}


async def run(backends: Backends | None = None) -> dict:
    backends = backends or local_backends()
    raw = await raw_baseline(backends)
    figures: dict = {"raw_publish_confirm_consume": raw}
    for shape in SHAPES:
        pipeline = await pipeline_throughput(backends, shape)
        figures[f"pipeline_{shape}"] = {
            **pipeline,
            "to_raw_ratio": round(pipeline["events_per_s"] / raw["events_per_s"], 3),
            "lag_at_500_per_s": await pipeline_lag(backends, shape)}
    figures["goals"] = "ratio >= 0.50; lag p99 < 250 ms at 500 events/s"
    report("events_pipeline", figures)
    return figures


if __name__ == "__main__":
    import uvloop

    # The services run on uvloop (their __main__); the relay and producer here do too.
    uvloop.run(run())
