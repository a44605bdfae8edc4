"""Credential material: SCRAM verifiers, connection-string formats, password expiry."""
