"""Signed checkpoints of the audit chain, and the keys that sign them (a published contract).

A checkpoint says "the entry at ``seq`` has hash ``head_hash``", signed with Ed25519. Because
each hash covers everything before it, one checkpoint vouches for the whole chain up to
``seq``; entries after the last checkpoint are chained but not yet signed.

Signed message (``checkpoint_message``)::

    JCS({"type": "epv.audit.checkpoint", "v": 1, "seq": <int>, "head_hash": <64 hex>,
         "created_at": <canonical timestamp>, "key_id": <kid>})

i.e. the RFC 8785 bytes of that object. ``signature`` is the 64-byte Ed25519 signature of those
bytes, base64url without padding. ``key_id`` is ``derive_key_id(public_key)``: the first 16
characters of base64url(SHA-256(the 32 raw public key bytes)), unpadded.

Published public keys are a JWK set of OKP keys::

    {"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
               "kid": "<key id>", "x": "<base64url raw public key>"}]}

A checkpoint serialises as ``{"seq", "head_hash", "created_at", "key_id", "signature"}``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from epv_common.auditchain.encoding import (
    EncodingError,
    canonical_bytes_fast,
    format_timestamp,
    is_canonical_timestamp,
    is_hash_hex,
    parse_timestamp,
)

__all__ = [
    "CHECKPOINT_TYPE",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_due",
    "checkpoint_message",
    "derive_key_id",
    "generate_private_key",
    "jwk_to_public_key",
    "load_private_key",
    "load_public_key",
    "load_public_keys",
    "private_key_to_pem",
    "private_key_to_raw",
    "public_jwk",
    "public_key_to_pem",
    "public_key_to_raw",
    "public_keys_document",
    "retention_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_TYPE = "epv.audit.checkpoint"
CHECKPOINT_VERSION = 1
KEY_ID_LENGTH = 16


class CheckpointError(ValueError):
    """A checkpoint or key document is malformed (not: a signature that does not verify)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: Any, *, length: int, what: str) -> bytes:
    """Strict base64url: the alphabet only, no padding, and the one encoding of the bytes."""
    if not isinstance(text, str):
        raise CheckpointError(f"{what} must be a base64url string")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError:
        raise CheckpointError(f"{what} is not base64url: {text!r}") from None
    if len(raw) != length or _b64url(raw) != text:
        raise CheckpointError(f"{what} is not the base64url of {length} bytes: {text!r}")
    return raw


# --------------------------------------------------------------------------- keys


def generate_private_key() -> Ed25519PrivateKey:
    """A new Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def public_key_to_raw(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_to_raw(private_key: Ed25519PrivateKey) -> bytes:
    """The 32-byte seed of a private key."""
    return private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_key_to_pem(private_key: Ed25519PrivateKey, *, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted when a password is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(data: bytes | str, *, password: bytes | None = None) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or its 32 raw seed bytes."""
    if isinstance(data, str):
        data = data.encode("ascii")
    if len(data) == 32 and not data.lstrip().startswith(b"-----"):
        return Ed25519PrivateKey.from_private_bytes(data)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"not an Ed25519 private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"not an Ed25519 private key: {type(key).__name__}")
    return key


def load_public_key(data: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or its 32 raw bytes."""
    if isinstance(data, str):
        data = data.encode("ascii")
    if len(data) == 32 and not data.lstrip().startswith(b"-----"):
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"not an Ed25519 public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"not an Ed25519 public key: {type(key).__name__}")
    return key


def derive_key_id(public_key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """``base64url(SHA-256(raw public key))[:16]`` -- the key's id in checkpoints and JWKs."""
    if isinstance(public_key, Ed25519PrivateKey):
        public_key = public_key.public_key()
    digest = hashlib.sha256(public_key_to_raw(public_key)).digest()
    return _b64url(digest)[:KEY_ID_LENGTH]


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The key as an OKP JWK (RFC 8037) with its derived ``kid``."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": derive_key_id(public_key),
        "x": _b64url(public_key_to_raw(public_key)),
    }


def public_keys_document(public_keys: Iterable[Ed25519PublicKey]) -> dict[str, list[dict]]:
    """The publication format: ``{"keys": [jwk, ...]}``."""
    return {"keys": [public_jwk(k) for k in public_keys]}


def jwk_to_public_key(jwk: Mapping[str, Any]) -> tuple[str, Ed25519PublicKey]:
    """``(kid, key)`` from an OKP Ed25519 JWK; a ``kid`` that is not the derived id is refused."""
    if not isinstance(jwk, Mapping):
        raise CheckpointError("a JWK must be a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise CheckpointError(f"not an OKP Ed25519 JWK: kty={jwk.get('kty')!r} crv={jwk.get('crv')!r}")
    if jwk.get("alg", "EdDSA") != "EdDSA":
        raise CheckpointError(f"unexpected alg {jwk.get('alg')!r}")
    if "d" in jwk:
        raise CheckpointError("a published key must not carry its private part 'd'")
    key = Ed25519PublicKey.from_public_bytes(_unb64url(jwk.get("x"), length=32, what="x"))
    kid = derive_key_id(key)
    if jwk.get("kid", kid) != kid:
        raise CheckpointError(f"kid {jwk.get('kid')!r} is not the key's id {kid!r}")
    return kid, key


def load_public_keys(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """``{kid: key}`` from a ``{"keys": [...]}`` document (or from a single JWK)."""
    if not isinstance(document, Mapping):
        raise CheckpointError("a key document must be a JSON object")
    jwks = document.get("keys") if "keys" in document else [document]
    if not isinstance(jwks, list):
        raise CheckpointError("'keys' must be a list")
    return dict(jwk_to_public_key(j) for j in jwks)


# --------------------------------------------------------------------------- checkpoints


def checkpoint_message(*, seq: int, head_hash: str, created_at: str, key_id: str) -> bytes:
    """The bytes a checkpoint's signature covers (JCS of the typed checkpoint claim)."""
    return canonical_bytes_fast(
        {
            "type": CHECKPOINT_TYPE,
            "v": CHECKPOINT_VERSION,
            "seq": seq,
            "head_hash": head_hash,
            "created_at": created_at,
            "key_id": key_id,
        }
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed claim that the chain's entry ``seq`` has hash ``head_hash``."""

    seq: int
    head_hash: str
    created_at: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        """The signed bytes."""
        return checkpoint_message(
            seq=self.seq, head_hash=self.head_hash, created_at=self.created_at, key_id=self.key_id
        )

    @property
    def created_datetime(self) -> datetime:
        return parse_timestamp(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "head_hash": self.head_hash,
            "created_at": self.created_at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Parse the serialised form; every field is checked, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise CheckpointError("a checkpoint must be a JSON object")
        expected = {"seq", "head_hash", "created_at", "key_id", "signature"}
        if set(data) != expected:
            raise CheckpointError(
                f"checkpoint keys must be {sorted(expected)}, got {sorted(map(str, data))}"
            )
        seq = data["seq"]
        if type(seq) is not int or seq < 1:
            raise CheckpointError(f"checkpoint seq must be an integer >= 1: {seq!r}")
        if not is_hash_hex(data["head_hash"]):
            raise CheckpointError("checkpoint head_hash must be 64 lowercase hex digits")
        if not is_canonical_timestamp(data["created_at"]):
            raise CheckpointError(f"checkpoint created_at is not canonical: {data['created_at']!r}")
        if not isinstance(data["key_id"], str) or not data["key_id"]:
            raise CheckpointError("checkpoint key_id must be a non-empty string")
        if not isinstance(data["signature"], str):
            raise CheckpointError("checkpoint signature must be a string")
        return cls(
            seq=seq,
            head_hash=data["head_hash"],
            created_at=data["created_at"],
            key_id=data["key_id"],
            signature=data["signature"],
        )


def sign_checkpoint(
    private_key: Ed25519PrivateKey,
    *,
    seq: int,
    head_hash: str,
    created_at: datetime | str,
) -> Checkpoint:
    """Sign "entry ``seq`` has hash ``head_hash``" at ``created_at``."""
    if type(seq) is not int or seq < 1:
        raise CheckpointError(f"seq must be an integer >= 1: {seq!r}")
    if not is_hash_hex(head_hash):
        raise CheckpointError("head_hash must be 64 lowercase hex digits")
    try:
        created = format_timestamp(created_at)
    except EncodingError as e:
        raise CheckpointError(str(e)) from None
    kid = derive_key_id(private_key.public_key())
    message = checkpoint_message(seq=seq, head_hash=head_hash, created_at=created, key_id=kid)
    return Checkpoint(
        seq=seq,
        head_hash=head_hash,
        created_at=created,
        key_id=kid,
        signature=_b64url(private_key.sign(message)),
    )


def verify_checkpoint(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    """True when ``checkpoint`` is signed by ``public_key`` and names that key's id."""
    if checkpoint.key_id != derive_key_id(public_key):
        return False
    try:
        signature = _unb64url(checkpoint.signature, length=64, what="signature")
        message = checkpoint.message()
        public_key.verify(signature, message)
    except (CheckpointError, EncodingError, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------- policies


def checkpoint_due(
    *,
    head_seq: int,
    last_checkpoint_seq: int,
    last_checkpoint_at: datetime | None,
    now: datetime,
    every_entries: int,
    every_seconds: float,
) -> bool:
    """Whether to sign a checkpoint now: there are unsigned entries, and either
    ``every_entries`` of them have accumulated or ``every_seconds`` have passed since the last
    checkpoint (or there was none)."""
    unsigned = head_seq - last_checkpoint_seq
    if unsigned <= 0:
        return False
    if unsigned >= every_entries or last_checkpoint_at is None:
        return True
    return (now - last_checkpoint_at).total_seconds() >= every_seconds


def retention_checkpoint(
    checkpoints: Iterable[Checkpoint], *, last_removable_seq: int
) -> Checkpoint | None:
    """The checkpoint retention may cut at: the latest one with ``seq <= last_removable_seq``.

    Retention deletes the entries with ``seq <= cut.seq`` and keeps ``cut`` itself, so what
    remains verifies from ``start_prev_hash=cut.head_hash, start_seq=cut.seq + 1``. ``None``
    means nothing may be removed yet. ``last_removable_seq`` is the newest entry older than the
    retention cut-off.
    """
    best: Checkpoint | None = None
    for cp in checkpoints:
        if cp.seq <= last_removable_seq and (best is None or cp.seq > best.seq):
            best = cp
    return best
