"""Fake web push service (`POST /push/{id}`) that proves a push was built right, as a real one would require.

It plays both the push service and the browser: it holds the subscriber's P-256 private key and auth secret,
so it DECRYPTS the aes128gcm body with `http_ece` (the payload is in `req.info["payload"]`); and it verifies
the VAPID `Authorization: vapid t=<JWT>,k=<public key>` header with `cryptography` directly (ES256 signature,
`aud` = this server's origin, `exp` in the future and at most 24 h ahead, `sub` present, and `k` equal to the
application server key the subscription was made with). Anything wrong is a problem that fails the test.

    push = PushFake(vapid_public_key=public)   # from opsknight.engine.vapid.generate_vapid_keys()
    sub = push.subscription()                  # {"endpoint", "expirationTime", "keys": {"p256dh", "auth"}}
    push.respond_next(Reply(410))              # or 404, 429 with Retry-After, 500; default answer 201
    [req] = push.expect(1); req.info["payload"], ["ttl"], ["urgency"], ["topic"], ["vapid"]
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.fakes.base import FakeHTTPServer, Reply, Request

_PATH = re.compile(r"/push/[\w-]+")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushFake(FakeHTTPServer):
    def __init__(self, vapid_public_key: str | None = None):
        super().__init__()
        self.vapid_public_key = vapid_public_key  # None: accept any signing key
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._auth = os.urandom(16)

    def subscription(self, subscription_id: str = "sub-1") -> dict:
        """What the browser's PushManager.subscribe() hands the page (PushSubscription.toJSON())."""
        p256dh = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.url}/push/{subscription_id}", "expirationTime": None,
                "keys": {"p256dh": b64url(p256dh), "auth": b64url(self._auth)}}

    def check(self, req: Request) -> Reply | None:
        if req.method != "POST" or not _PATH.fullmatch(req.path):
            self.problem(f"unexpected push call {req.method} {req.path}")
            return Reply(404)
        try:
            req.info["vapid"] = self._verify_vapid(req.headers.get("Authorization") or "")
        except (ValueError, KeyError, InvalidSignature) as exc:
            self.problem(f"bad VAPID authorization: {exc!r}")
            return Reply(401, "bad VAPID")
        if req.headers.get("TTL") is None or not req.headers["TTL"].isdigit():
            self.problem("push without a TTL header (RFC 8030 requires it)")
            return Reply(400, "TTL required")
        req.info["ttl"] = int(req.headers["TTL"])
        req.info["urgency"] = req.headers.get("Urgency", "normal")
        topic = req.headers.get("Topic")
        if topic is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic):
            self.problem(f"Topic {topic!r} is not 1-32 URL-safe base64 characters (RFC 8030)")
            return Reply(400, "bad Topic")
        req.info["topic"] = topic
        if len(req.body) > 4096:
            self.problem(f"push body of {len(req.body)} bytes: push services refuse more than 4096")
            return Reply(413)
        if req.headers.get("Content-Encoding") != "aes128gcm":
            self.problem(f"Content-Encoding {req.headers.get('Content-Encoding')!r}, want aes128gcm")
            return Reply(415)
        try:
            plain = http_ece.decrypt(req.body, private_key=self._key, auth_secret=self._auth, version="aes128gcm")
            req.info["payload"] = json.loads(plain)
        except Exception as exc:  # http_ece raises its own and cryptography's errors
            self.problem(f"push payload does not decrypt to JSON: {exc!r}")
            return Reply(400, "cannot decrypt")
        return None

    def answer(self, req: Request) -> Reply:
        return Reply(201, headers={"Location": f"{self.url}/m/{uuid.uuid4().hex}"})

    def _verify_vapid(self, header: str) -> dict:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"Authorization scheme {scheme!r}, want vapid")
        params = dict(part.strip().split("=", 1) for part in rest.split(","))
        token, key = params["t"], params["k"]
        if self.vapid_public_key is not None and key != self.vapid_public_key:
            raise ValueError("k is not the application server key the subscription was made with")
        head_b64, claims_b64, sig_b64 = token.split(".")
        header_json = json.loads(unb64url(head_b64))
        if header_json.get("alg") != "ES256":
            raise ValueError(f"JWT alg {header_json.get('alg')!r}, want ES256")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        sig = unb64url(sig_b64)  # JOSE: raw r || s, 32 bytes each
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(unb64url(claims_b64))
        if claims.get("aud") != self.url:
            raise ValueError(f"aud {claims.get('aud')!r} is not this push service's origin {self.url!r}")
        if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
            raise ValueError(f"exp {claims.get('exp')} is not within the next 24 h")
        if not claims.get("sub"):
            raise ValueError("no sub claim")
        return claims
