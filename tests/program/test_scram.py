"""Client-side SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677)."""

import base64

from pg_tenants.scram import is_scram_verifier, scram_sha256_verifier, verifier_matches

SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")  # the salt of RFC 7677's example


def test_verifier_has_postgresql_format():
    verifier = scram_sha256_verifier("pencil", SALT)
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert is_scram_verifier(verifier)


def test_same_inputs_give_the_same_verifier():
    assert scram_sha256_verifier("pencil", SALT) == scram_sha256_verifier("pencil", SALT)


def test_verifier_matches_only_its_own_password():
    verifier = scram_sha256_verifier("pencil", SALT)
    assert verifier_matches(verifier, "pencil")
    assert not verifier_matches(verifier, "pencil2")


def test_rfc7677_client_proof_from_the_verifier_keys():
    # RFC 7677 section 3: user "user", password "pencil"; the proof it shows must follow
    # from our StoredKey with the exchange's AuthMessage.
    import hashlib
    import hmac

    verifier = scram_sha256_verifier("pencil", SALT)
    stored_key = base64.b64decode(verifier.split("$")[2].split(":")[0])
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", SALT, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    auth_message = (
        b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    )
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    assert base64.b64encode(proof) == b"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="


def test_iterations_are_part_of_the_verifier():
    assert scram_sha256_verifier("pencil", SALT, 10000).startswith("SCRAM-SHA-256$10000:")
