"""The audit service's settings (EPV_ prefix)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr, model_validator

from epv_common.auditchain import CheckpointError, load_private_key
from epv_common.settings import ServiceSettings

# Deterministic so that every dev/test process (and a second replica) signs with the same key;
# refused outside development and test.
DEV_SIGNING_SEED = hashlib.sha256(b"epv-audit-dev-checkpoint-signing-key").digest()


def _cores() -> int:
    """The cores this process may run on: its CPU affinity, where the OS has one."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every OS
        return os.cpu_count() or 1


def parse_signing_key(text: str) -> Ed25519PrivateKey:
    """PEM (PKCS#8) or base64 (standard or url-safe) of the 32-byte Ed25519 seed."""
    text = text.strip()
    if text.startswith("-----"):
        return load_private_key(text.encode())
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_"
                               if ("-" in text or "_" in text) else None, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("EPV_AUDIT_SIGNING_KEY is neither PEM nor base64") from None
    if len(raw) != 32:
        raise CheckpointError("EPV_AUDIT_SIGNING_KEY must be the 32-byte Ed25519 seed")
    return load_private_key(raw)


class Settings(ServiceSettings):
    service_name: str = "audit"
    port: int = 8003
    audit_signing_key: SecretStr | None = None
    audit_checkpoint_every: int = Field(1000, ge=1, le=10_000_000)
    audit_checkpoint_interval_s: float = Field(60.0, gt=0)
    # Rows per round trip of the server-side cursors behind verify and export.
    audit_stream_batch: int = Field(2000, ge=10, le=50_000)
    # Worker processes that verify a long chain in runs between checkpoints, one per core by
    # default; below 2 the service verifies in its own process (one core).
    audit_verify_workers: int = Field(default_factory=_cores, ge=0, le=64)
    # Entries per run: a chain shorter than two runs is verified in the service's process.
    audit_verify_run: int = Field(100_000, ge=1)

    @model_validator(mode="after")
    def _signing_key_outside_dev(self) -> Settings:
        if self.audit_signing_key is None and not self.is_dev:
            raise ValueError("EPV_AUDIT_SIGNING_KEY must be set outside development and test")
        if self.audit_signing_key is not None:
            try:
                parse_signing_key(self.audit_signing_key.get_secret_value())
            except (CheckpointError, ValueError) as exc:
                raise ValueError(f"EPV_AUDIT_SIGNING_KEY: {exc}") from None
        return self

    def signing_key(self) -> Ed25519PrivateKey:
        if self.audit_signing_key is None:
            return Ed25519PrivateKey.from_private_bytes(DEV_SIGNING_SEED)
        return parse_signing_key(self.audit_signing_key.get_secret_value())
