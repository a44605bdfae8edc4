"""SCRAM-SHA-256 password verifiers computed client-side (RFC 5802, RFC 7677).

PostgreSQL stores a value already in `SCRAM-SHA-256$...` form as is, so the plaintext never
travels to the server nor lands in its logs. The verifier is a pure function of password,
salt and iteration count: the same inputs give the same text and Pulumi shows no diff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

DEFAULT_ITERATIONS = 4096  # PostgreSQL's own scram_iterations default
SALT_BYTES = 16  # what PostgreSQL generates itself
_VERIFIER = re.compile(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)")


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = DEFAULT_ITERATIONS) -> str:
    # PostgreSQL applies SASLprep to the password; printable ASCII passes through unchanged,
    # which is all pg-tenants generates. Admin-provided passwords are checked by the caller.
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def is_scram_verifier(value: str) -> bool:
    return _VERIFIER.fullmatch(value) is not None


def verifier_matches(verifier: str, password: str) -> bool:
    """Whether `password` is the one `verifier` was made from."""
    match = _VERIFIER.fullmatch(verifier)
    if not match:
        return False
    salt = base64.b64decode(match.group(2))
    return hmac.compare_digest(scram_sha256_verifier(password, salt, int(match.group(1))), verifier)
