"""Client-side SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677), checked against known vectors.

A verifier is `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. PostgreSQL uses
StoredKey to check the client's proof and ServerKey to sign its answer, so each key is checked
on its own against values this code did not compute: RFC 7677's example exchange, and a verifier
PostgreSQL itself made.
"""

import base64
import hashlib
import hmac
import re

from pg_tenants.credentials.scram import is_scram_verifier, scram_sha256_verifier, verifier_matches

# RFC 7677 section 3: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST_MESSAGE_BARE = b"n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST_MESSAGE = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL_MESSAGE_WITHOUT_PROOF = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
CLIENT_PROOF = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_SIGNATURE = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
# RFC 5802 section 3: AuthMessage := client-first-message-bare + "," + server-first-message + "," + client-final-message-without-proof
AUTH_MESSAGE = b",".join([CLIENT_FIRST_MESSAGE_BARE, SERVER_FIRST_MESSAGE, CLIENT_FINAL_MESSAGE_WITHOUT_PROOF])

# Made by PostgreSQL 15.18 (`SET password_encryption = 'scram-sha-256'; CREATE ROLE vec PASSWORD …;
# SELECT rolpassword FROM pg_authid`), with a salt it chose; the password has every kind of
# punctuation a generated one can hold, `$`, `:`, `\` and `"` included.
POSTGRESQL_PASSWORD = 'Zq7#v!L2^x$e%R&t*(y)_u+i{o}p|a~s`d:f;g"h<j>k?l,m.n/b\\c'
POSTGRESQL_VERIFIER = (
    "SCRAM-SHA-256$4096:t/Z/lZoyxaLal1lU0LtKxQ==$D9MF2baaIboBBosEHtqmWS603HrWDHSE8fIfLaWGE+k=:"
    "7yCqIBjc/6DVp/raCldYVUbTxjgJP6YqwEf0WF8lgIg="
)

VERIFIER_FORMAT = re.compile(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)")


def parse(verifier: str) -> tuple[int, bytes, bytes, bytes]:
    """(iterations, salt, StoredKey, ServerKey) of `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`."""
    match = VERIFIER_FORMAT.fullmatch(verifier)
    assert match, verifier
    iterations, salt, stored_key, server_key = match.groups()
    return int(iterations), base64.b64decode(salt, validate=True), base64.b64decode(stored_key, validate=True), base64.b64decode(server_key, validate=True)


def test_verifier_has_postgresql_format():
    verifier = scram_sha256_verifier("pencil", SALT)
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert is_scram_verifier(verifier)
    iterations, salt, stored_key, server_key = parse(verifier)
    assert (iterations, salt) == (4096, SALT)
    assert len(stored_key) == len(server_key) == hashlib.sha256().digest_size


def test_rfc7677_server_signature_follows_from_the_verifier_server_key():
    # The server proves itself with ServerSignature := HMAC(ServerKey, AuthMessage).
    _, _, _, server_key = parse(scram_sha256_verifier("pencil", SALT, 4096))
    assert hmac.new(server_key, AUTH_MESSAGE, hashlib.sha256).digest() == SERVER_SIGNATURE


def test_rfc7677_client_proof_is_accepted_by_the_verifier_stored_key():
    # What the server does with the client's proof: ClientKey := ClientProof XOR
    # HMAC(StoredKey, AuthMessage), and the proof is good when H(ClientKey) = StoredKey.
    _, _, stored_key, _ = parse(scram_sha256_verifier("pencil", SALT, 4096))
    client_signature = hmac.new(stored_key, AUTH_MESSAGE, hashlib.sha256).digest()
    client_key = bytes(p ^ s for p, s in zip(CLIENT_PROOF, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_rfc7677_proof_and_signature_do_not_fit_another_password():
    _, _, stored_key, server_key = parse(scram_sha256_verifier("pencil2", SALT, 4096))
    assert hmac.new(server_key, AUTH_MESSAGE, hashlib.sha256).digest() != SERVER_SIGNATURE
    client_signature = hmac.new(stored_key, AUTH_MESSAGE, hashlib.sha256).digest()
    assert hashlib.sha256(bytes(p ^ s for p, s in zip(CLIENT_PROOF, client_signature, strict=True))).digest() != stored_key


def test_a_verifier_made_by_postgresql_is_reproduced_key_for_key():
    iterations, salt, stored_key, server_key = parse(POSTGRESQL_VERIFIER)
    ours = parse(scram_sha256_verifier(POSTGRESQL_PASSWORD, salt, iterations))
    assert ours[2] == stored_key, "StoredKey differs from PostgreSQL's"
    assert ours[3] == server_key, "ServerKey differs from PostgreSQL's"
    assert scram_sha256_verifier(POSTGRESQL_PASSWORD, salt, iterations) == POSTGRESQL_VERIFIER
    assert verifier_matches(POSTGRESQL_VERIFIER, POSTGRESQL_PASSWORD)


def test_same_inputs_give_the_same_verifier():
    assert scram_sha256_verifier("pencil", SALT) == scram_sha256_verifier("pencil", SALT)


def test_verifier_matches_only_its_own_password():
    verifier = scram_sha256_verifier("pencil", SALT)
    assert verifier_matches(verifier, "pencil")
    assert not verifier_matches(verifier, "pencil2")


def test_iterations_are_part_of_the_verifier_and_of_both_keys():
    verifier = scram_sha256_verifier("pencil", SALT, 10000)
    assert verifier.startswith("SCRAM-SHA-256$10000:")
    _, _, stored_key, server_key = parse(verifier)
    _, _, stored_4096, server_4096 = parse(scram_sha256_verifier("pencil", SALT, 4096))
    assert stored_key != stored_4096 and server_key != server_4096
