"""Read a search_path setting the way the server resolves it."""

from __future__ import annotations


def parse_search_path(value: str) -> list[str]:
    """Schema names in a search_path value such as `"Acme", acme, public` or `$user`.

    Mirrors SplitIdentifierString: quoted names keep their case (with "" as an escaped
    quote), unquoted ones are folded to lower case, whitespace around names is dropped.
    """
    names: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i].isspace():
            i += 1
        if i >= n:
            break
        if value[i] == '"':
            i += 1
            name = []
            while i < n:
                if value[i] == '"':
                    if i + 1 < n and value[i + 1] == '"':
                        name.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                name.append(value[i])
                i += 1
            names.append("".join(name))
        else:
            start = i
            while i < n and value[i] != ",":
                i += 1
            names.append(value[start:i].strip().lower())
        while i < n and value[i] != ",":
            i += 1
        i += 1  # past the comma
    return [name for name in names if name != ""]


def setting_value(setconfig_entry: str | None) -> str | None:
    """`search_path=acme` (an element of pg_db_role_setting.setconfig) -> `acme`."""
    if setconfig_entry is None:
        return None
    return setconfig_entry.split("=", 1)[1] if "=" in setconfig_entry else ""
