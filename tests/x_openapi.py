"""X's OpenAPI description for the emulator's schema checks.

The authoritative file is shared/x-api/openapi.json beside the repository (or inside it).
A clone without that folder (a newcomer's laptop, a fresh-clone check) uses the subset
committed in tests/data: the schemas the emulator's answers are checked against and every
schema they reference. `python -m tests.x_openapi` rewrites it from the shared file, and a
test fails when the two drift apart.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ROOT / "tests" / "data" / "x-openapi-subset.json"
# What the emulator's JSON answers are checked against; their references come along.
ROOTS = (
    "Get2UsersMeResponse",
    "Get2UsersResponse",
    "Get2UsersIdMentionsResponse",
    "Get2UsersIdTweetsResponse",
    "CreateComplianceJobResponse",
    "Get2ComplianceJobsIdResponse",
    "Get2ComplianceJobsResponse",
    "Get2TweetsSearchAllResponse",
    "Get2TweetsCountsAllResponse",
    "Problem",
    "Error",
    "Tweet",
    "User",
)


def shared_file() -> Path | None:
    for candidate in (ROOT / "shared", ROOT.parent / "shared"):
        path = candidate / "x-api" / "openapi.json"
        if path.is_file():
            return path
    return None


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref",) and isinstance(value, str):
                yield value
            elif key == "mapping" and isinstance(value, dict):
                yield from (v for v in value.values() if isinstance(v, str))
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def subset(spec: dict[str, Any]) -> dict[str, Any]:
    """The ROOTS and every component schema they reach through $ref or a discriminator."""
    schemas = spec["components"]["schemas"]
    wanted: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted[name] = schemas[name]
        for ref in _refs(schemas[name]):
            if ref.startswith("#/components/schemas/"):
                pending.append(ref.rsplit("/", 1)[1])
    return {
        "openapi": spec["openapi"],
        "info": spec.get("info", {}),
        "components": {"schemas": dict(sorted(wanted.items()))},
    }


@cache
def openapi() -> dict[str, Any]:
    path = shared_file() or SUBSET
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


def main() -> int:
    path = shared_file()
    if path is None:
        print("shared/x-api/openapi.json not found beside the repository", file=sys.stderr)
        return 1
    SUBSET.write_text(json.dumps(subset(json.loads(path.read_text())), indent=1) + "\n")
    print(f"wrote {SUBSET.relative_to(ROOT)} from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
