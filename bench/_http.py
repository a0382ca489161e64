"""A lean HTTP/1.1 keep-alive client for the benchmarks: asyncio streams, requests written as bytes.

The load generator shares the 2-core machine with the server it measures. httpx spent 0.4–0.9 of a core at the
request rates the ingest benchmark drives (more as connections grow), CPU taken from the server under test;
this client spends a fraction of that, so the figures describe the server rather than the client.
Only what the benchmarks need: GET, POST with a Content-Length body, responses with Content-Length.
"""

from __future__ import annotations

import asyncio


class Pool:
    """At most `size` connections to one host; a request waits for a free one."""

    def __init__(self, base_url: str, size: int, timeout: float = 30):
        host_port = base_url.split("://", 1)[1].rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port, self.timeout = int(port or 80), timeout
        self._slots, self._idle = asyncio.Semaphore(size), []

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """-> (status, body). Raises OSError / asyncio.TimeoutError / asyncio.IncompleteReadError / ValueError."""
        return await self.request("POST", path, headers, body)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        return await self.request("GET", path, headers or {}, None)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        length = f"Content-Length: {len(body)}\r\n" if body is not None else ""
        request = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}{length}\r\n").encode() + (
            body or b"")
        async with self._slots:
            reused = bool(self._idle)
            reader, writer = self._idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(request)
                status, response, keep = await asyncio.wait_for(_read_response(reader), self.timeout)
            except (asyncio.IncompleteReadError, ConnectionError) if reused else ():
                # The server closed this idle keep-alive connection (granian: after 10 s without a request, see
                # opsknight/web_server.py); as any HTTP client does, send again on a new one.
                writer.close()
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(request)
                    status, response, keep = await asyncio.wait_for(_read_response(reader), self.timeout)
                except BaseException:
                    writer.close()
                    raise
            except BaseException:
                writer.close()
                raise
            if keep:
                self._idle.append((reader, writer))
            else:
                writer.close()
            return status, response

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if "content-length" not in fields:
        raise ValueError(f"response without Content-Length (status {status})")
    body = await reader.readexactly(int(fields["content-length"]))
    return status, body, fields.get("connection", "").lower() != "close"
