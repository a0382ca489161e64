"""Reflex state classes. Handlers call store/engine functions; no SQL here."""
