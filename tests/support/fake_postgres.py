"""A listener that opens a session the way a PostgreSQL server does, then answers with one refusal.

For login failures a throwaway server cannot cheaply be made to show (a server that accepts
TLS only needs certificates and pg_hba.conf edits): libpq talks to this listener exactly as to
a server, so what the client prints is libpq's own reaction. The refusals are the server's
messages as PostgreSQL writes them (src/backend/libpq/auth.c, ClientAuthentication).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104
Refusal = Literal["hba_no_encryption", "password_request"]


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(code + text.encode() + b"\0" for code, text in
                      ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message)))
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def _serve_one(conn: socket.socket, refusal: Refusal) -> None:
    with conn:
        try:
            while True:  # SSLRequest / GSSENCRequest come before the startup message: decline them
                length, code = struct.unpack("!ii", _read_exactly(conn, 8))
                _read_exactly(conn, length - 8)
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    conn.sendall(b"N")
                    continue
                break
            if refusal == "hba_no_encryption":
                conn.sendall(_error_response("28000", 'no pg_hba.conf entry for host "127.0.0.1", user "admin", '
                                                      'database "app", no encryption'))
            else:  # AuthenticationCleartextPassword: a client without a password gives up here
                conn.sendall(b"R" + struct.pack("!ii", 8, 3))
                conn.recv(1024)
        except (ConnectionError, OSError):
            pass


@contextmanager
def fake_postgres(refusal: Refusal) -> Iterator[int]:
    """Listen on a free loopback port (yielded) until the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            _serve_one(conn, refusal)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
