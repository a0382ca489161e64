"""Group commit: concurrent requests that carry the same token share one transaction.

Under load a request waits for one of the process's database slots (`common.db_slot`). Requests with the same
token that arrive while it waits go in with it: one transaction, one statement per table for all their alerts,
one commit, one Redis round trip to enqueue — about as cheap as one Alertmanager batch. A single event spends
most of its CPU on per-transaction work (a round trip per statement, the commit, the enqueue), so merged, N
events cost little more than one (`bench/ingest.py`). A request that finds a slot free goes in at once, alone: requests are grouped
only while they would have waited anyway.

Each request keeps its own answer (`common.accept_all`): an unknown or disabled token refuses the whole group
(they share it), a bad signature, a rate limit or a bad payload refuses only that request.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from dataclasses import dataclass, field

import anyio

from opsknight.api.webhooks import common

MAX_REQUESTS = 32  # per group: bounds one transaction's size and what one lost dedup race makes rerun
MAX_BYTES = 2 * 1024 * 1024


@dataclass
class _Group:
    submissions: list[common.Submission] = field(default_factory=list)
    answers: list[asyncio.Future] = field(default_factory=list)
    size: int = 0

    def has_room_for(self, submission: common.Submission) -> bool:
        return len(self.submissions) < MAX_REQUESTS and self.size + len(submission.body) <= MAX_BYTES


Key = tuple[str | None, frozenset[str]]
# The group still waiting for a slot, per token, per event loop (futures and tasks belong to their loop).
_waiting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Key, _Group]] = weakref.WeakKeyDictionary()
_running: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones to its tasks


async def submit(token: str | None, source_types: set[str], submission: common.Submission) -> common.Accepted:
    """Accept one request, in a group with others of the same token if they wait together. Raises WebhookError
    (4xx for the client's mistakes, 503 when the database cannot take the alert)."""
    loop = asyncio.get_running_loop()
    waiting = _waiting.setdefault(loop, {})
    key = (token, frozenset(source_types))
    group = waiting.get(key)
    if group is None or not group.has_room_for(submission):
        group = waiting[key] = _Group()
        task = loop.create_task(_run(waiting, key, group, token, source_types))
        _running.add(task)
        task.add_done_callback(functools.partial(_finished, waiting, key, group))
    answer = loop.create_future()
    answer.add_done_callback(_retrieved)
    group.submissions.append(submission)
    group.answers.append(answer)
    group.size += len(submission.body)
    # Shielded: a request whose client went away leaves its group alone (the others' transaction goes on).
    return await asyncio.shield(answer)


async def _run(waiting: dict[Key, _Group], key: Key, group: _Group, token: str | None,
               source_types: set[str]) -> None:
    try:
        async with common.db_slot():
            _close(waiting, key, group)  # from now on, a request with this token starts the next group
            outcomes = await anyio.to_thread.run_sync(common.accept_all, token, source_types, group.submissions)
            if len(outcomes) != len(group.answers):
                raise RuntimeError(f"{len(outcomes)} answers for {len(group.answers)} requests")
    except Exception as exc:  # no slot (503), or a bug: every request of the group answers with it
        for answer in group.answers:
            if not answer.done():
                answer.set_exception(exc)
        return
    finally:
        _close(waiting, key, group)
    for answer, outcome in zip(group.answers, outcomes):
        if not answer.done():
            if isinstance(outcome, common.WebhookError):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)


def _finished(waiting: dict[Key, _Group], key: Key, group: _Group, task: asyncio.Task) -> None:
    """Whatever ended the group's task (cancelled at shutdown, even before it began), no request waits forever."""
    _running.discard(task)
    _close(waiting, key, group)
    for answer in group.answers:
        if not answer.done():
            answer.cancel()


def _close(waiting: dict[Key, _Group], key: Key, group: _Group) -> None:
    if waiting.get(key) is group:
        del waiting[key]


def _retrieved(answer: asyncio.Future) -> None:
    """Mark the answer's exception as seen: a request that was cancelled never awaits it."""
    if not answer.cancelled():
        answer.exception()
