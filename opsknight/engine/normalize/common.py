"""The normalized alert every inbound source is turned into, and the helpers that bound it.

Pure code: no I/O, no clock. Each source module validates its own wire shape and then calls
:func:`make_alert`, which enforces the invariants below so that nothing downstream (database, UI,
notifications) has to re-check them:

* ``dedup_key``: 1..255 characters, no control characters (longer or odd keys are replaced by
  ``"sha256:" + hex digest`` of the key, deterministically, so a later resolve still matches).
* ``summary``: 1..1024 characters, one line, control and bidi-override characters removed.
* ``severity``: one of ``critical | error | warning | info`` (see :func:`map_severity`).
* ``source``: 1..255 characters, cleaned like the summary.
* ``details``: a bounded JSON-safe dict (see :func:`bounded_details`); no NUL characters or lone
  surrogates, which PostgreSQL cannot store.
* ``links``: at most 20, only ``http``/``https`` hrefs (a ``javascript:`` link is dropped, not
  rejected: a bad link must never cost a page).
* ``occurred_at``: timezone-aware UTC, or ``None`` when the sender gave no usable time.

Severity -> urgency (:func:`severity_to_urgency`): ``critical`` and ``error`` are HIGH urgency (page
now); ``warning`` and ``info`` are LOW urgency. An unknown or missing severity maps to ``error``, hence
HIGH: an on-call tool should wake someone for an alert it does not understand rather than drop it.

Escaping HTML is the UI's job (React escapes text); here we only strip control characters and bound
lengths.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from opsknight.models import AlertAction, Urgency

MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_SOURCE = 255
MAX_LINKS = 20
MAX_LINK_TEXT = 255
MAX_HREF = 2048
SEVERITIES = ("critical", "error", "warning", "info")


# The domain's vocabulary is defined once, beside the tables that store it.
Action = AlertAction


class PayloadError(ValueError):
    """The body does not have the shape its source promises.

    ``errors`` lists every problem found, each naming the field (``"alerts[0].labels must be an
    object"``), so the HTTP layer can answer 400 with them verbatim.
    """

    def __init__(self, errors: str | Iterable[str]):
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors) or "invalid payload")


@dataclass(frozen=True)
class Link:
    href: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"href": self.href, "text": self.text}


@dataclass(frozen=True)
class NormalizedAlert:
    """One alert event, as every source looks after normalization (build it with :func:`make_alert`)."""

    action: Action
    dedup_key: str
    summary: str
    severity: str
    source: str
    details: dict = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        # Cheap guard: a source module that bypassed make_alert fails loudly in tests, not in prod data.
        problems = []
        if not isinstance(self.action, Action):
            problems.append("action")
        if not (isinstance(self.dedup_key, str) and 0 < len(self.dedup_key) <= MAX_DEDUP_KEY):
            problems.append("dedup_key")
        if not (isinstance(self.summary, str) and 0 < len(self.summary) <= MAX_SUMMARY):
            problems.append("summary")
        if self.severity not in SEVERITIES:
            problems.append("severity")
        if not (isinstance(self.source, str) and 0 < len(self.source) <= MAX_SOURCE):
            problems.append("source")
        if not isinstance(self.details, dict) or len(self.links) > MAX_LINKS:
            problems.append("details/links")
        if self.occurred_at is not None and self.occurred_at.utcoffset() is None:
            problems.append("occurred_at")
        if problems:
            raise ValueError(f"NormalizedAlert invariant broken: {', '.join(problems)}")

    @property
    def urgency(self) -> Urgency:
        return severity_to_urgency(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the shape of ``tests/fixtures/expected/*.json``)."""
        return {
            "action": str(self.action),
            "dedup_key": self.dedup_key,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "details": self.details,
            "links": [link.to_dict() for link in self.links],
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }


# --- text -------------------------------------------------------------------------------------------

_MAX_INT_BITS = 10_000  # json.loads refuses such integers anyway; Python callers might not
# Bidi overrides/isolates can make a summary display as something else ("Trojan Source").
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return f"<{value.bit_length()}-bit integer>"  # str() refuses past 4300 digits
    if isinstance(value, (int, float)):
        return str(value)
    # Containers: a compact JSON rendering of a bounded copy (never recurses without limit).
    return json.dumps(bounded_details(value, max_depth=3, max_keys=20, max_str=256), ensure_ascii=False)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with "…"."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + "…"


def clean_text(value: Any, limit: int) -> str:
    """One clean line of at most ``limit`` characters.

    Scalars go through ``str()`` (booleans as JSON ``true``/``false``, ``None`` as ""); control
    characters (newlines and tabs included), line separators and lone surrogates become spaces, bidi
    overrides are removed, runs of whitespace collapse to one space.
    """
    text = _LINE_BREAKERS.sub(" ", _scalar_text(value).translate(_BIDI))
    return truncate(" ".join(text.split()), limit)


# Unicode categories Cc (controls), Cs (surrogates), Zl and Zp (line/paragraph separators) as one character
# class: a regex runs in C, where a per-character loop cost more than everything else on the webhook path.
_LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    """Drop what PostgreSQL text/jsonb cannot hold (NUL, lone surrogates); keep newlines for details."""
    return _UNSTORABLE.sub("", text)


def storable_json(value: Any) -> Any:
    """A copy of parsed JSON that PostgreSQL's jsonb accepts: no NUL or lone surrogates in strings or keys, and
    NaN/Infinity (which Python's json accepts but jsonb does not) as strings. Nothing is truncated."""
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    if isinstance(value, dict):
        return {_storable(str(key)): storable_json(item) for key, item in value.items()}
    return value


def bounded_details(obj: Any, max_depth: int = 5, max_keys: int = 100, max_str: int = 4096) -> Any:
    """A JSON-safe, bounded copy of ``obj`` (pass a dict to get a dict).

    Strings are cut to ``max_str`` characters; dicts and lists keep their first ``max_keys`` entries
    plus one ``"…"`` marker saying how many were dropped; containers deeper than ``max_depth`` become
    a short text rendering; keys become strings; NaN/Infinity and non-JSON types become ``str()``.
    The copy is never larger than the input by more than those markers, so the HTTP layer's body
    limit also bounds it.
    """

    def walk(value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if value.bit_length() <= _MAX_INT_BITS else _scalar_text(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return truncate(_storable(value), max_str)
        if isinstance(value, (Mapping, list, tuple)):
            if depth >= max_depth:
                return truncate(_storable(_flat(value)), max_str)
            if isinstance(value, Mapping):
                out: dict[str, Any] = {}
                items = list(value.items())
                for key, item in items[:max_keys]:
                    out[truncate(_storable(_key_text(key)), 255)] = walk(item, depth + 1)
                if len(items) > max_keys:
                    out["…"] = f"{len(items) - max_keys} more keys dropped"
                return out
            seq = [walk(item, depth + 1) for item in value[:max_keys]]
            if len(value) > max_keys:
                seq.append(f"… {len(value) - max_keys} more items dropped")
            return seq
        return truncate(_storable(str(value)), max_str)

    return walk(obj, 0)


def _key_text(key: Any) -> str:
    """Dict keys from JSON are strings already; Python callers may pass numbers or other keys."""
    if key is None or isinstance(key, (str, bool, int, float)):
        return _scalar_text(key)
    return str(key)


def _flat(value: Any) -> str:
    """Short text for a container cut off by the depth bound (shallow, so never deep recursion)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key_text(k)}: …" for k in list(value)[:20]) + "}"
    return f"[{len(value)} items]"


def stable_hash(value: Any) -> str:
    """Hex SHA-256 of a canonical JSON rendering (bounded first, so any input is safe)."""
    canonical = json.dumps(bounded_details(value), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- severity ---------------------------------------------------------------------------------------

_SEVERITY_SYNONYMS = {
    "critical": ("crit", "critical", "p1", "high", "page", "disaster", "fatal", "emergency", "emerg", "sev1"),
    "error": ("error", "err", "major", "p2", "sev2"),
    "warning": ("warn", "warning", "minor", "p3", "average", "sev3"),
    "info": ("info", "informational", "low", "ok", "none", "p4", "p5", "notice", "debug", "sev4", "sev5"),
}
_SEVERITY_MAP = {word: sev for sev, words in _SEVERITY_SYNONYMS.items() for word in words}


def map_severity(raw: Any) -> str:
    """Map a sender's severity word to ``critical | error | warning | info``.

    Synonyms (case-insensitive): crit/critical/p1/high/page/disaster (also fatal, emergency, sev1) ->
    critical; error/err/major/p2 -> error; warn/warning/minor/p3/average -> warning;
    info/informational/low/ok/none/p4/p5 -> info. Anything else, including a missing severity, is
    ``error``: a serious on-call tool pages for an alert it cannot classify instead of dropping it.
    """
    if not isinstance(raw, str):
        return "error"
    return _SEVERITY_MAP.get(raw.strip().lower(), "error")


def severity_to_urgency(severity: str) -> Urgency:
    """critical, error (and anything unknown) -> HIGH; warning, info -> LOW."""
    return Urgency.LOW if map_severity(severity) in ("warning", "info") else Urgency.HIGH


# --- time -------------------------------------------------------------------------------------------

_NUMERIC = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def parse_time(value: Any) -> datetime | None:
    """A tz-aware UTC datetime, or ``None`` when ``value`` is absent, unset or unparseable.

    Strings: ISO 8601 / RFC 3339 (naive times are taken as UTC); a string of digits is an epoch
    number. Numbers: unix seconds, or milliseconds/microseconds/nanoseconds when too large to be
    seconds (Datadog's ``$DATE`` is milliseconds). "Unset" markers map to ``None``: Go's zero time
    ``0001-01-01T00:00:00Z`` (Alertmanager's ``endsAt`` while firing) and epoch values ``<= 0``.
    """
    ok, parsed = parse_time_checked(value)
    return parsed if ok else None


def parse_time_checked(value: Any) -> tuple[bool, datetime | None]:
    """Like :func:`parse_time` but tells "invalid" ``(False, None)`` from "absent/unset" ``(True, None)``."""
    if value is None or value == "":
        return True, None
    if isinstance(value, str) and _NUMERIC.match(value):
        value = float(value)
    if isinstance(value, bool):
        return False, None
    try:
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                return False, None
            if value <= 0:
                return True, None
            for scale in (1, 1e3, 1e6, 1e9):  # seconds, ms, µs, ns
                if value / scale < 1e11:
                    return True, datetime.fromtimestamp(value / scale, tz=timezone.utc)
            return False, None
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            if parsed.year <= 1:
                return True, None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return True, parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    return False, None


# --- links and the alert itself --------------------------------------------------------------------


def safe_href(href: Any) -> str | None:
    """``href`` if it is an absolute http(s) URL we can show, else ``None``."""
    if not isinstance(href, str):
        return None
    href = href.strip()
    if not href or len(href) > MAX_HREF or _CONTROL_OR_SURROGATE.search(href):
        return None
    try:
        parts = urlsplit(href)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return href.replace(" ", "%20")


def make_links(candidates: Iterable[tuple[Any, Any]]) -> tuple[Link, ...]:
    """Links from ``(href, text)`` pairs: unsafe hrefs dropped, duplicates removed, at most 20."""
    links: list[Link] = []
    seen: set[str] = set()
    for href, text in candidates:
        good = safe_href(href)
        if good is None or good in seen:
            continue
        seen.add(good)
        links.append(Link(good, clean_text(text, MAX_LINK_TEXT) or truncate(good, MAX_LINK_TEXT)))
        if len(links) == MAX_LINKS:
            break
    return tuple(links)


def bounded_dedup_key(key: str) -> str:
    """``key`` itself when storable and short enough, else ``"sha256:" + hex`` of it (deterministic)."""
    if 0 < len(key) <= MAX_DEDUP_KEY and not _CONTROL_OR_SURROGATE.search(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def make_alert(
    *,
    action: Action,
    dedup_key: str,
    summary: Any,
    severity: Any,
    source: Any,
    details: Mapping[str, Any] | None = None,
    links: Iterable[tuple[Any, Any]] = (),
    occurred_at: datetime | None = None,
    fallback_summary: str = "Alert",
    fallback_source: str = "unknown",
) -> NormalizedAlert:
    """Build a :class:`NormalizedAlert`, cleaning and bounding every field (see module docstring)."""
    return NormalizedAlert(
        action=action,
        dedup_key=bounded_dedup_key(dedup_key),
        # Fallbacks are built from sender fields too, so they are cleaned like everything else.
        summary=clean_text(summary, MAX_SUMMARY) or clean_text(fallback_summary, MAX_SUMMARY) or "Alert",
        severity=severity if severity in SEVERITIES else map_severity(severity),
        source=clean_text(source, MAX_SOURCE) or clean_text(fallback_source, MAX_SOURCE) or "unknown",
        details=bounded_details(dict(details or {})),
        links=make_links(links),
        occurred_at=occurred_at,
    )


# --- small shape helpers shared by the source modules ---------------------------------------------


def type_name(value: Any) -> str:
    """JSON name of ``value``'s type, for error messages ("got array")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def describe(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message (never a deep or huge repr)."""
    if isinstance(value, str):
        return repr(clean_text(value, 40))
    if value is None or isinstance(value, (bool, int, float)):
        return clean_text(value, 40)
    return type_name(value)


def require_object(body: Any, what: str = "body") -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise PayloadError(f"{what} must be a JSON object, got {type_name(body)}")
    return body


def text_or_none(value: Any) -> str | None:
    """A non-blank string (numbers accepted as text), else ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _scalar_text(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def first_text(*values: Any) -> str | None:
    for value in values:
        text = text_or_none(value)
        if text is not None:
            return text
    return None
