"""The live relay (`opsknight.live.relay`): whatever the number of web processes running it, one holds the lease
and publishes each batch once; when it stops, another takes over and starts with a resync. Embedded Redis
(fakeredis, as `make run` has it), several relays in one event loop standing for several web processes."""

from __future__ import annotations

import asyncio

from opsknight import broker
from opsknight.live import pages, relay


async def _batches(sub, seconds: float) -> list[tuple[int, set[int] | None]]:
    found, deadline = [], asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        message = await sub.get_message(timeout=min(left, 0.1))
        if message is not None:
            found.append(pages._decode(message))
    return found


def test_one_relay_publishes_each_batch_once_and_another_takes_over(sqlite, monkeypatch):
    monkeypatch.setattr(relay, "LEASE_SECONDS", 1.0)
    monkeypatch.setattr(relay, "RENEW_EVERY", 0.2)

    async def scenario():
        client = relay.async_redis()
        sub = client.pubsub(ignore_subscribe_messages=True)
        await sub.subscribe(pages.BATCH_CHANNEL)
        relays = [asyncio.create_task(relay.relay()) for _ in range(3)]  # three web processes
        start = await _batches(sub, 1.0)
        assert [changed for _, changed in start] == [None]  # the leader's first resync, from one of them only
        sent = []
        for incident_id in range(1, 6):
            broker.publish_incidents_changed([incident_id])
            sent += await _batches(sub, 0.5)
        assert [changed for _, changed in sent] == [{1}, {2}, {3}, {4}, {5}]  # once each, not once per process
        versions = [version for version, _ in start + sent]
        assert versions == sorted(set(versions))

        leader = await client.get(relay.LEASE_KEY)
        for task in relays:  # stop the one holding the lease (its lease goes with it)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if await client.get(relay.LEASE_KEY) != leader:
                break
        taken_over = await _batches(sub, 1.0)
        assert [changed for _, changed in taken_over] == [None]  # the new relay resyncs every page first
        broker.publish_incidents_changed([42])
        assert [changed for _, changed in await _batches(sub, 0.5)] == [{42}]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        await sub.aclose()
        await client.aclose()

    asyncio.run(scenario())
