"""The JSON Schema of a tenant file, generated from the model so editors and the program agree.

Regenerate with: python -m pg_tenants.tenant_schema > schema/tenant-file.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from pg_tenants.tenants.model import TenantFile


def tenant_file_json_schema() -> dict[str, Any]:
    schema = TenantFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    entry = schema["$defs"]["TenantEntry"]
    pattern = "^[a-z_][a-z0-9_]*$"
    for field in ("name", "schema", "username"):
        target = entry["properties"][field]
        for option in target.get("anyOf", [target]):
            if option.get("type") == "string":
                option.update(pattern=pattern, maxLength=63)
    return schema


def render() -> str:
    return json.dumps(tenant_file_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
