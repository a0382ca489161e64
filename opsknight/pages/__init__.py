"""Reflex pages, one module per page or page family."""
