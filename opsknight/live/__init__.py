"""The live path from the writers' "incidents changed" messages (Redis pub/sub) to every open page.

`coalesce` is the pure part (which changes go out together, and when); `relay` is the web-process side that
turns them into one `app.modify_state` call per batch on the shared `IncidentFeed` — from one web process at a
time (a Redis lease elects it), so each batch reaches every linked page once, not once per process.
"""
