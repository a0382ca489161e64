"""The live path from the writers' "incidents changed" messages (Redis pub/sub) to every open page.

`coalesce` is the pure part (which changes go out together, and when); `relay` turns the writers' messages into
coalesced batches, from one web process at a time (a Redis lease elects it) — one message per batch for all web
processes; `pages` applies each batch in every web process to the pages whose sockets it holds, one state update
per page.
"""
