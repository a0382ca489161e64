"""The live feed every dashboard and incident page links to (`rx.SharedState`).

Tiny on purpose: Reflex copies a change of it into every linked page's state (a lock/load/delta cycle each), so it
holds only a version and the ids of the last batch. Each page builds its own view in its own state when the
version moves (`on_feed`): the page re-renders a fragment keyed by the version, whose mount sends that event.
"""

from __future__ import annotations

import reflex as rx

FEED_TOKEN = "incidents"  # the shared state's token (Reflex refuses underscores in it)


class IncidentFeed(rx.SharedState):
    version: int = 0
    changed: str = ""  # ids of the last batch, comma-separated; "" = anything may have changed (resync)


async def follow(state: rx.State) -> None:
    """Link the page's tree to the feed (in an event handler, e.g. on load)."""
    feed = await state.get_state(IncidentFeed)
    await feed._link_to(FEED_TOKEN)


def changed_ids(changed: str) -> set[int] | None:
    """The ids of a batch, or None when anything may have changed."""
    ids = {int(part) for part in changed.split(",") if part.isdigit()}
    return ids or None


def watcher(handler) -> rx.Component:
    """Put on a page: sends `handler(version, changed)` whenever the feed's version moves. The key remounts the
    child, and its mount sends the event (a key on the child itself would not: Reflex keeps its effect outside)."""
    return rx.fragment(rx.box(on_mount=handler(IncidentFeed.version, IncidentFeed.changed), display="none"),
                       key=IncidentFeed.version.to_string())
