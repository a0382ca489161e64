"""Bounded, storable input fields the admin layer's pydantic models share.

Everything a client sends is bounded here, so no input can reach the database as a value it refuses (NUL,
lone surrogates, out-of-range ids or dates): a bad value is a 400 naming the field, never a 500.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_ID = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def storable(value: str) -> str:
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
    return storable(value)


def _plausible(value: datetime) -> datetime:
    # Bounded before any time-zone arithmetic, which overflows near year 1 and 9999.
    if not 2000 <= value.year <= 2999:
        raise ValueError("must be between the years 2000 and 2999")
    return value.astimezone(UTC)


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_one_line)]
Description = Annotated[str, Field(max_length=5000), AfterValidator(storable)]
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]
LongText = Description  # free text (descriptions): newlines allowed


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Input(BaseModel):
    """Base of every body and form model of the users and profile areas: unknown fields are refused, and so is a
    NUL character anywhere (PostgreSQL text cannot hold one: it would surface as a server error)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


@functools.lru_cache(maxsize=1)
def known_time_zones() -> tuple[str, ...]:
    """Every IANA zone name zoneinfo knows, sorted (the pages offer them as suggestions)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def _time_zone(value: str) -> str:
    # Membership rather than ZoneInfo(value): ZoneInfo also opens odd keys (paths, "localtime") a page must not accept.
    value = value.strip()
    if value not in known_time_zones():
        raise ValueError("not a known IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)")
    return value


def _name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be empty")
    return value


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_time_zone)]
PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]
HourMinute = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="24-hour HH:MM")]


class QuietHours(Input):
    """Low-urgency pages wait until `end` while the user's local time is between `start` and `end` (it may wrap
    past midnight: 22:00-07:00). High-urgency pages always go out."""

    start: HourMinute
    end: HourMinute

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self
