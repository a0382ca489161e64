"""The web side of the live path, first half: the writers' "incidents changed" messages -> coalesced batches.

Every web process runs `relay` (a Reflex lifespan task), but only the holder of a short Redis lease subscribes to
the writers' channel, coalesces (`coalesce.Coalescer`) and publishes batches: one message per batch for all web
processes, each of which pushes it to its own open pages (`live.pages`). Another process takes the lease within
LEASE_SECONDS when the holder dies. Changes published while no process listens are covered by the periodic
resync batch and by pages re-reading when they reconnect or wake.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import redis
import redis.asyncio

from opsknight import broker
from opsknight.config import settings
from opsknight.live.coalesce import Coalescer

log = logging.getLogger(__name__)

LEASE_KEY = "opsknight:live:relay"
LEASE_SECONDS = 5.0
RENEW_EVERY = 1.5
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def async_redis() -> redis.asyncio.Redis:
    """An asyncio client for the configured Redis, or for the embedded one (the same in-process server)."""
    url = settings().redis_url
    if not url:
        import fakeredis.aioredis

        return fakeredis.aioredis.FakeRedis(server=broker._fake_server())
    return redis.asyncio.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)


async def relay() -> None:
    """Lifespan task: hold the lease when free, and while holding it relay changes to the feed."""
    me = uuid.uuid4().hex
    client = async_redis()
    try:
        while True:
            try:
                if await client.set(LEASE_KEY, me, nx=True, px=int(LEASE_SECONDS * 1000)):
                    log.info("live relay: this process relays incident changes to open pages")
                    await _lead(client, me)
                else:
                    await asyncio.sleep(RENEW_EVERY)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away, a Reflex hiccup: try again shortly, never die
                log.warning("live relay: %s: %s; retrying", type(exc).__name__, exc)
                await asyncio.sleep(1)
    finally:
        try:
            await client.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
                              "return 0", 1, LEASE_KEY, me)
        except Exception:  # shutting down: the lease expires by itself
            pass
        await client.aclose()


async def _lead(client: redis.asyncio.Redis, me: str) -> None:
    """Relay until the lease is lost."""
    coalescer = Coalescer(last_resync=time.monotonic())
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(broker.INCIDENTS_CHANNEL)
    await publish(client, [])  # a new relay does not know what the last one missed: every page re-reads
    renewed = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now - renewed >= RENEW_EVERY:
                if not await client.eval(_RENEW, 1, LEASE_KEY, me, int(LEASE_SECONDS * 1000)):
                    log.warning("live relay: lost the lease; another process relays now")
                    return
                renewed = now
            wait = max(0.0, min(coalescer.due_at() - now, renewed + RENEW_EVERY - now))
            message = await pubsub.get_message(timeout=wait)
            while message is not None:  # drain what is waiting before deciding
                coalescer.add(ids_in(message.get("data")), time.monotonic())
                message = await pubsub.get_message(timeout=0)
            batch = coalescer.take(time.monotonic())
            if batch is not None:
                await publish(client, batch)
    finally:
        await pubsub.aclose()


def ids_in(data) -> list[int]:
    """The incident ids of a message's comma-separated list (bytes or text)."""
    text = data.decode() if isinstance(data, bytes) else str(data or "")
    return [int(part) for part in text.split(",") if part.isdigit()]


VERSION_KEY = "opsknight:live:version"


async def publish(client: redis.asyncio.Redis, ids: list[int]) -> int:
    """One batch for every web process (`live.pages`): a new version, and the ids it names ([] = anything)."""
    from opsknight.live.pages import BATCH_CHANNEL

    version = await client.incr(VERSION_KEY)
    await client.publish(BATCH_CHANNEL, f"{version}:{','.join(str(i) for i in ids)}")
    return version
