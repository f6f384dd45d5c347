"""Benchmark: the auth service's CPU costs per operation (one core, process CPU time).

    .venv/bin/python bench/bench_auth.py [--n 2000]

1. access-token signing (RS256 with the cached key object, as auth signs at login/refresh),
   against signing with PEM text (what the design forbids: the key is re-parsed every time);
2. access-token verification (RS256, key object), as the gateway does on every request;
3. one bcrypt-sha256 cost-12 hash and verify, which bounds logins/s per core.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from epv_auth.keys import KeyRing, SigningKey
from epv_auth.passwords import HASHER
from epv_auth.settings import Settings
from epv_auth.tokens import issue_access_token


def per_op(fn, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    settings = Settings(environment="test")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    ring = KeyRing(settings, uow_factory=None)
    ring._current, ring._checked_at = SigningKey(kid="bench", private_key=key), float("inf")
    user = {"id": uuid.uuid4(), "role": "ANALYST"}
    loop = asyncio.new_event_loop()

    def sign() -> str:
        return loop.run_until_complete(issue_access_token(ring, settings, user=user,
                                                          session_id=str(uuid.uuid4())))

    claims = jwt.decode(sign(), options={"verify_signature": False})
    token = sign()
    public = key.public_key()
    results = {
        "sign RS256 (key object, via issue_access_token)": per_op(sign, args.n),
        "sign RS256 (PEM text, baseline)": per_op(
            lambda: jwt.encode(claims, pem, algorithm="RS256"), max(1, args.n // 4)),
        "verify RS256 (key object)": per_op(
            lambda: jwt.decode(token, public, algorithms=["RS256"], audience="epv-api",
                               issuer="epv-auth"), args.n),
    }
    hashed = HASHER.hash("Correct-Horse-Battery-9")
    results["bcrypt-sha256 cost 12 hash"] = per_op(lambda: HASHER.hash("Correct-Horse-9x"), 5)
    results["bcrypt-sha256 cost 12 verify"] = per_op(
        lambda: HASHER.verify("Correct-Horse-Battery-9", hashed), 5)
    for name, seconds in results.items():
        print(f"{name:52s} {seconds * 1e6:12.1f} µs/op  {1 / seconds:10.1f} op/s/core")
    ratio = results["sign RS256 (PEM text, baseline)"] / results[
        "sign RS256 (key object, via issue_access_token)"]
    print(f"key object vs PEM text signing: {ratio:.2f}× faster")


if __name__ == "__main__":
    main()
