"""Field types the admin input models share: names and free text that PostgreSQL can always store.

A NUL character or a lone surrogate in a string makes the database driver fail (a 500); these types refuse them
at parse time instead, naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

MAX_ID = 2**31 - 1  # PostgreSQL integer
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _one_line(value: str) -> str:
    if _CONTROL_OR_SURROGATE.search(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return value


def _storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise PydanticCustomError("unstorable_text", "must not contain NUL or unpaired surrogate characters")
    return value


# A display name: one line, trimmed, 1..100 characters (the column is varchar(100)).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_one_line)]
# Free text such as a description: newlines allowed.
LongText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_storable)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
