"""Every connection format hands back the exact user and password, whatever the password holds."""

import string
from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from pg_tenants.credentials.formats import Credentials, parse_pgpass_line

PRINTABLE_94 = string.ascii_letters + string.digits + string.punctuation
passwords = st.text(alphabet=PRINTABLE_94, min_size=1, max_size=64)
usernames = st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True)


def credentials(user: str, password: str) -> Credentials:
    return Credentials(host="db.example.internal", port=6432, database="app", user=user, password=password, sslmode="verify-full")


def test_the_alphabet_has_94_characters():
    assert len(set(PRINTABLE_94)) == 94


@given(usernames, passwords)
def test_uri_round_trips_through_libpq_parser(user, password):
    parsed = conninfo_to_dict(credentials(user, password).uri())
    assert (parsed["user"], parsed["password"], parsed["sslmode"]) == (user, password, "verify-full")
    assert (parsed["host"], parsed["port"], parsed["dbname"]) == ("db.example.internal", "6432", "app")


@given(usernames, passwords)
def test_dsn_round_trips_through_libpq_parser(user, password):
    parsed = conninfo_to_dict(credentials(user, password).dsn())
    assert (parsed["user"], parsed["password"], parsed["sslmode"]) == (user, password, "verify-full")


@given(usernames, passwords)
def test_jdbc_query_parameters_decode_to_user_and_password(user, password):
    url = credentials(user, password).jdbc()
    assert url.startswith("jdbc:postgresql://db.example.internal:6432/app?")
    query = parse_qs(urlsplit(url.removeprefix("jdbc:")).query, keep_blank_values=True)
    assert (query["user"], query["password"], query["sslmode"]) == ([user], [password], ["verify-full"])


@given(usernames, passwords)
def test_jdbc_url_has_no_raw_reserved_character_in_the_password(user, password):
    query = urlsplit(credentials(user, password).jdbc().removeprefix("jdbc:")).query
    raw_password = query.split("&")[1].removeprefix("password=")
    assert unquote(raw_password) == password
    assert not set(raw_password) & set("&=#?/ ")


@given(usernames, passwords)
def test_env_holds_the_values_verbatim(user, password):
    env = credentials(user, password).env()
    assert env == {
        "PGHOST": "db.example.internal",
        "PGPORT": "6432",
        "PGDATABASE": "app",
        "PGUSER": user,
        "PGPASSWORD": password,
        "PGSSLMODE": "verify-full",
    }


@given(usernames, passwords)
def test_pgpass_line_round_trips(user, password):
    line = credentials(user, password).pgpass()
    assert parse_pgpass_line(line) == ("db.example.internal", "6432", "app", user, password)


def test_pgpass_escapes_colon_and_backslash():
    assert credentials("acme", "a:b\\c").pgpass() == "db.example.internal:6432:app:acme:a\\:b\\\\c"


def test_ipv6_host_is_bracketed_in_uri():
    uri = Credentials("::1", 5432, "app", "acme", "pw", "disable").uri()
    assert conninfo_to_dict(uri)["host"] == "::1"
