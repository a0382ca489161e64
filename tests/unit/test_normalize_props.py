"""Property tests: whatever JSON arrives, a normalizer returns bounded alerts or raises PayloadError.

Two kinds of input per source: arbitrary JSON, and "almost valid" payloads (one of our example
fixtures with one field replaced by arbitrary JSON or deleted), which reach far deeper into the code.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from opsknight.engine.normalize import NORMALIZERS
from opsknight.engine.normalize.common import SEVERITIES, NormalizedAlert, PayloadError, bounded_details, clean_text

from .test_normalize import CASES, load

PROFILE = settings(max_examples=200, deadline=None)
QUICK = settings(max_examples=100, deadline=None)
SOURCES = sorted({case[0] for case in CASES})

# Surrogates and control characters included: json.loads happily produces both.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | any_text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5),
    max_leaves=15,
)
options = st.sampled_from([None, {}, {"group_by": "group_key"}, {"new_dedup_key": "generated-key"}])

DELETE = object()


def _paths(value, prefix=()):
    """Every path (tuple of keys/indexes) to a node inside ``value``, the root excluded."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _replace(body, path, new):
    body = copy.deepcopy(body)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if new is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return body


@st.composite
def almost_valid(draw, source):
    fixtures = [(load(payload), opts) for src, payload, opts, _ in CASES if src == source]
    body, opts = draw(st.sampled_from(fixtures))
    paths = list(_paths(body))
    if paths:
        body = _replace(body, draw(st.sampled_from(paths)), draw(json_values | st.just(DELETE)))
    return body, opts


def _no_control(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in text)


def check(source, body, opts):
    try:
        alerts = NORMALIZERS[source](body, options=opts)
    except PayloadError as error:
        assert error.errors and all(isinstance(e, str) and e for e in error.errors)
        return
    assert isinstance(alerts, list)
    for alert in alerts:
        assert isinstance(alert, NormalizedAlert)
        assert 1 <= len(alert.dedup_key) <= 255 and _no_control(alert.dedup_key)
        assert 1 <= len(alert.summary) <= 1024 and _no_control(alert.summary)
        assert 1 <= len(alert.source) <= 255 and _no_control(alert.source)
        assert alert.severity in SEVERITIES
        assert len(alert.links) <= 20
        assert all(link.href.lower().startswith(("http://", "https://")) for link in alert.links)
        assert alert.occurred_at is None or alert.occurred_at.utcoffset() == timedelta(0)
        encoded = json.dumps(alert.to_dict(), allow_nan=False)
        assert "\\u0000" not in encoded
        encoded.encode("utf-8")  # no lone surrogates anywhere
    # Deterministic: an HA pair's duplicate deliveries must normalize identically.
    assert [a.to_dict() for a in NORMALIZERS[source](body, options=opts)] == [a.to_dict() for a in alerts]


def _for_each_source(make_test):
    return {f"test_{source}_{make_test.__name__}": make_test(source) for source in SOURCES}


def arbitrary_json(source):
    @PROFILE
    @given(body=json_values, opts=options)
    def test(body, opts):
        check(source, body, opts)

    return test


def almost_valid_payload(source):
    @PROFILE
    @given(case=almost_valid(source))
    def test(case):
        body, opts = case
        check(source, body, opts)

    return test


globals().update(_for_each_source(arbitrary_json))
globals().update(_for_each_source(almost_valid_payload))


@QUICK
@given(value=json_values, limit=st.integers(1, 2000))
def test_clean_text_is_one_bounded_clean_line(value, limit):
    text = clean_text(value, limit)
    assert len(text) <= limit and _no_control(text) and text == text.strip()
    assert "  " not in text


@QUICK
@given(value=st.dictionaries(any_text, json_values, max_size=6))
def test_bounded_details_is_strict_json(value):
    out = bounded_details(value, max_depth=3, max_keys=4, max_str=16)
    json.dumps(out, allow_nan=False).encode("utf-8")
    assert isinstance(out, dict) and len(out) <= 5
