"""Input types the user and profile forms share: a validated IANA time zone, quiet hours, a person's name."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


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


class QuietHours(BaseModel):
    """Low-urgency pages wait until `end` while the user's local time is between `start` and `end` (it may wrap
    past midnight: 22:00-07:00). High-urgency pages always go out."""

    model_config = ConfigDict(extra="forbid")
    start: HourMinute
    end: HourMinute

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self
