"""The consuming side of the events benchmark, in a process of its own, as in a deployment
(the relay runs inside the producing service, the consumer inside another service).

    python -m bench.consumer_side raw '{"amqp_url": ..., "queue": ..., "count": N}'
    python -m bench.consumer_side inbox '<Pipeline.describe() + "count">'

Prints READY once it consumes, then DONE <unix time of the last effect> <CPU seconds used
since READY>: CPU per event is the figure that holds on a busy machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aio_pika


async def raw(config: dict) -> None:
    connection = await aio_pika.connect_robust(config["amqp_url"])
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=64)
    queue = await channel.declare_queue(config["queue"], durable=True,
                                        arguments={"x-queue-type": "quorum"})
    received = 0
    done = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal received
        await message.ack()
        received += 1
        if received >= config["count"]:
            done.set()

    await queue.consume(on_message)
    print("READY", flush=True)
    cpu_at_ready = time.process_time()
    await done.wait()
    print(f"DONE {time.time()} {time.process_time() - cpu_at_ready}", flush=True)
    await connection.close()


async def inbox(config: dict) -> None:
    from sqlalchemy import func, select

    from bench.scratch import attached_pipeline

    async with attached_pipeline(config) as pipeline:
        consumer = pipeline.consumer(config.get("shape", "batch"))
        await consumer.start()
        print("READY", flush=True)
        cpu_at_ready = time.process_time()
        while True:
            async with pipeline.engine.connect() as conn:
                count = (await conn.execute(
                    select(func.count()).select_from(pipeline.effects))).scalar_one()
            if count >= config["count"]:
                break
            await asyncio.sleep(0.02)
        print(f"DONE {time.time()} {time.process_time() - cpu_at_ready}", flush=True)
        await consumer.stop()


if __name__ == "__main__":
    mode, config = sys.argv[1], json.loads(sys.argv[2])
    import uvloop

    uvloop.run({"raw": raw, "inbox": inbox}[mode](config))
