"""VAPID keys (RFC 8292): the key pair that identifies this server to browser push services.

The browser subscribes with the public key (`applicationServerKey`); every push is signed with the private key.
Both are base64url without padding, the format browsers, py_vapid and pywebpush all accept: the private key is
the raw 32-byte P-256 scalar, the public key the 65-byte uncompressed point. Storing them is the caller's job.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_b64url(key: ec.EllipticCurvePrivateKey) -> str:
    return _b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def generate_vapid_keys() -> tuple[str, str]:
    """A new (private_key_b64url, public_key_b64url) pair."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big")), _public_b64url(key)


def public_key_for(private_key_b64url: str) -> str:
    """The applicationServerKey for a stored private key, so only the private key needs keeping."""
    raw = base64.urlsafe_b64decode(private_key_b64url + "=" * (-len(private_key_b64url) % 4))
    return _public_b64url(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))


VAPID_KV_KEY = "vapid_private_key"


def stored_private_key(db) -> str:
    """This installation's VAPID private key: OPSKNIGHT_VAPID_PRIVATE_KEY if set, else generated on first use
    and kept in app_kv (the browser's subscriptions are bound to the public key, so it must never change)."""
    import os

    from sqlalchemy.exc import IntegrityError

    from opsknight.models import AppKV

    configured = os.environ.get("OPSKNIGHT_VAPID_PRIVATE_KEY", "").strip()
    if configured:
        return configured
    row = db.get(AppKV, VAPID_KV_KEY)
    if row is not None:
        return row.value
    private, _ = generate_vapid_keys()
    try:
        with db.begin_nested():
            db.add(AppKV(key=VAPID_KV_KEY, value=private))
            db.flush()
    except IntegrityError:  # another process generated it at the same moment: use theirs
        return db.get(AppKV, VAPID_KV_KEY, populate_existing=True).value
    return private
