"""`reflex run` with the web server settings an on-call product needs, which Reflex does not let us pass.

Reflex builds granian's `Server` itself (`reflex.utils.exec.run_granian_backend_prod`) with a fixed set of
arguments and no way to add more, and granian reads its environment variables only in its own command line. Its
defaults do not hold up for us:

* `backpressure` caps the connections each worker accepts (1024 / workers: 204 with 5 workers). Every open
  dashboard's websocket holds one, and so does every slow client: 1,000 connections that never finish their
  body (`/api/v2/enqueue` must read the body to find its token) left no room for a valid alert until they timed
  out. Connections are cheap; a high cap leaves the limits that matter to the application
  (`api.webhooks.admission`).
* `header_read_timeout` (30 s) is how long a connection that never finishes its headers holds its place.
* `respawn_failed_workers` is off: a worker that dies (out of memory, a crash in a native library) would not
  come back, and the alerts it was accepting would go to a dead socket until someone restarted the service.

`opsknight serve` runs this module instead of the `reflex` script; everything else is `reflex run` unchanged.
"""

from __future__ import annotations

import sys

from granian.http import HTTP1Settings

BACKLOG = 4096  # the kernel's listen queue (capped by net.core.somaxconn)
CONNECTIONS_PER_WORKER = 4096
HEADER_READ_MS = 10_000

SERVER_SETTINGS = {
    "backlog": BACKLOG,
    "backpressure": CONNECTIONS_PER_WORKER,
    "http1_settings": HTTP1Settings(header_read_timeout=HEADER_READ_MS),
    "respawn_failed_workers": True,
}


def tune_granian() -> None:
    """Make `granian.server.Server` (which Reflex imports when it starts the backend) take SERVER_SETTINGS."""
    import granian.server

    base = granian.server.Server
    if getattr(base, "_opsknight_tuned", False):
        return

    class TunedServer(base):
        _opsknight_tuned = True

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**SERVER_SETTINGS, **kwargs})

    granian.server.Server = TunedServer


def main() -> None:
    tune_granian()
    from reflex.reflex import cli

    sys.argv[0] = "reflex"
    sys.exit(cli())


if __name__ == "__main__":
    main()
