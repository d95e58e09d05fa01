"""Ed25519 keys and signed JSON envelopes.

A signed document is a JSON object::

    {"signed": "<base64 of the canonical JSON payload>",
     "key": "<base64 Ed25519 public key>",
     "sig": "<base64 Ed25519 signature over the payload bytes>"}

The payload bytes are kept exactly as signed (base64), so verification never
depends on re-serialising JSON. Its BLAKE3 hash is the document's id.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

import blake3
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .errors import FormatError, SignatureError, UnknownKeyError
from .util import atomic_write, canonical_json

MAX_ENVELOPE = 8 * 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(s, what: str) -> bytes:
    if not isinstance(s, str):
        raise FormatError(f"{what}: expected base64 string")
    try:
        return base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise FormatError(f"{what}: bad base64") from exc


class Keypair:
    def __init__(self, signing_key: SigningKey):
        self._sk = signing_key

    @classmethod
    def generate(cls) -> Keypair:
        return cls(SigningKey.generate())

    @property
    def public(self) -> str:
        return b64(bytes(self._sk.verify_key))

    def sign(self, payload: bytes) -> bytes:
        return self._sk.sign(payload).signature

    def save(self, path) -> None:
        """Write the secret key (mode 0600) to ``path`` and the public key to ``path.pub``."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        data = {"type": "ed25519", "secret": b64(bytes(self._sk)), "public": self.public}
        atomic_write(path, json.dumps(data, indent=1).encode() + b"\n", mode=0o600)
        atomic_write(path + ".pub", (self.public + "\n").encode())

    @classmethod
    def load(cls, path) -> Keypair:
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
            secret = unb64(data["secret"], f"key {path}")
            return cls(SigningKey(secret))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"cannot read secret key {path}: {exc}") from exc


def load_public(value) -> str:
    """Accept a base64 public key or a path to a ``.pub`` file; return the base64 key."""
    s = str(value).strip()
    if os.path.exists(s):
        with open(s) as f:
            s = f.read().strip()
    raw = unb64(s, "public key")
    if len(raw) != 32:
        raise FormatError("public key: expected 32 bytes")
    return s


def key_id(public_b64: str) -> str:
    return blake3.blake3(unb64(public_b64, "key")).hexdigest()[:16]


def seal(payload_obj: dict, keypair: Keypair) -> tuple[bytes, str]:
    """Sign ``payload_obj``; return (envelope bytes, document id)."""
    payload = canonical_json(payload_obj)
    env = {"signed": b64(payload), "key": keypair.public, "sig": b64(keypair.sign(payload))}
    return json.dumps(env, indent=0).encode() + b"\n", blake3.blake3(payload).hexdigest()


def open_envelope(data: bytes, trusted: list[str] | None, what: str) -> tuple[dict, str, str]:
    """Check an envelope's signature; return (payload dict, document id, signer key).

    ``trusted``: list of accepted base64 public keys; None accepts any valid signer
    (the caller must then check the returned key itself).
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_ENVELOPE:
        raise FormatError(f"{what}: missing or too large")
    try:
        env = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what}: not JSON ({exc})") from exc
    if not isinstance(env, dict) or set(env) != {"signed", "key", "sig"}:
        raise FormatError(f"{what}: not a signed envelope")
    payload = unb64(env["signed"], f"{what}.signed")
    key = unb64(env["key"], f"{what}.key")
    sig = unb64(env["sig"], f"{what}.sig")
    if len(key) != 32 or len(sig) != 64:
        raise FormatError(f"{what}: bad key or signature length")
    if trusted is not None and env["key"] not in trusted:
        raise UnknownKeyError(f"{what}: signed by unknown key {key_id(env['key'])}")
    try:
        VerifyKey(key).verify(payload, sig)
    except (BadSignatureError, ValueError) as exc:
        raise SignatureError(f"{what}: bad signature") from exc
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what}: signed payload is not JSON") from exc
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: signed payload is not an object")
    return obj, blake3.blake3(payload).hexdigest(), env["key"]
