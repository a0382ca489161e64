"""Bounded, storable input fields the admin layer's pydantic models share.

Everything a client sends is bounded here, so no input can reach the database as a value it refuses (NUL,
lone surrogates, out-of-range ids or dates): a bad value is a 400 naming the field, never a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

MAX_ID = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(value: str) -> str:
    """PostgreSQL refuses NUL characters and lone surrogates cannot be encoded: refuse them here (400, not 500)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return _storable(value)


def _plausible(value: datetime) -> datetime:
    # Bounded before any time-zone arithmetic, which overflows near year 1 and 9999.
    if not 2000 <= value.year <= 2999:
        raise ValueError("must be between the years 2000 and 2999")
    return value.astimezone(UTC)


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_one_line)]
Description = Annotated[str, Field(max_length=5000), AfterValidator(_storable)]
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]
LongText = Description  # free text (descriptions): newlines allowed
