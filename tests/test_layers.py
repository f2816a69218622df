"""The layering of chalicelib/, read from the source with `ast`: every import at any depth
counts (module level, inside a function, under ``if TYPE_CHECKING:``), since each is a
dependency someone reading the code has to follow, lazy or not.

Layer map (a module imports from its own row or the rows below it; the three rules the
tests hold are marked ◆):

    app.py          Lambda's entry points: the routes, the schedule and the worker
    web             the routes: a request in, a page, JSON or CSV out
    services        the wiring: every client, store and flow built once from config
    ◆ only web and services import services (app.py reaches them through web)
    ─────────────────────────────────────────────────────────────────────────────────────
    flows           report_service, refresh, signin, forget, sweep, token_refresh: take what
                    they work with as arguments (tests/unit/ hands them fakes)
    X               x_timeline, x_auth, x_oauth2, x_http: X API v2 and OAuth, through Tweepy
    stores          accounts, sessions, archive, budget, refresh_queue, tokens: DynamoDB,
                    S3, SQS and the token cipher, through boto3
    shared          config, observability, pages, cookies, errors
    ─────────────────────────────────────────────────────────────────────────────────────
    pure            report_view, charts, report_settings, analytics, business_hours,
                    formats, report_body: no I/O
    ◆ pure modules import from chalicelib only pure modules (and no AWS, X or HTTP library)
    ◆ no import cycle among chalicelib's modules

local/, tests/ and bench/ stand outside the map: they wire the app to moto and the X
emulator, and may import any of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "chalicelib"

# The seven the project calls pure (xlsx: the workbook's bytes, made in memory), and the
# three they import that say so of themselves (formats: "Pure code: no I/O, no clock";
# report_body: "Pure declarations"; x_bill: prices and sums, no I/O).
PURE = frozenset(
    f"{PACKAGE}.{name}"
    for name in (
        "analytics",
        "business_hours",
        "charts",
        "report_settings",
        "report_view",
        "formats",
        "report_body",
        "report_lists",
        "xlsx",
        "x_bill",
    )
)
# What a pure module may not import from outside chalicelib either: AWS, X, HTTP, Lambda.
IO_LIBRARIES = frozenset(
    {
        "aws_lambda_powertools",
        "boto3",
        "botocore",
        "chalice",
        "http.client",
        "requests",
        "socket",
        "tweepy",
        "urllib.request",
    }
)
SERVICES = f"{PACKAGE}.services"
MAY_IMPORT_SERVICES = frozenset({f"{PACKAGE}.web", SERVICES})


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a module's dotted name
    line: int

    def __str__(self) -> str:
        return f"{self.importer} imports {self.imported} (line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    path = PROJECT_DIR.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(source: str, importer: str, is_package: bool = False) -> Iterator[Import]:
    """Every module `source` imports, at any depth. ``from a import b`` names ``a.b`` when
    that is a module of ours (b a submodule), else ``a``; relative imports are resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = importer.split(".")
                if not is_package:
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield Import(importer, submodule if _is_module(submodule) else base, node.lineno)


def chalicelib_imports() -> list[Import]:
    """Every import of every module of chalicelib/ and of app.py."""
    found: list[Import] = []
    for path in [PROJECT_DIR / "app.py", *sorted((PROJECT_DIR / PACKAGE).rglob("*.py"))]:
        name = module_name(path)
        found.extend(imports_of(path.read_text(), name, path.name == "__init__.py"))
    return found


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def import_graph() -> dict[str, set[str]]:
    """chalicelib module -> the chalicelib modules it imports (the package itself left out:
    its __init__ is empty and every submodule import passes through it)."""
    graph: dict[str, set[str]] = {}
    for found in chalicelib_imports():
        if not _ours(found.importer) or found.importer == PACKAGE:
            continue
        targets = graph.setdefault(found.importer, set())
        if _ours(found.imported) and found.imported not in (PACKAGE, found.importer):
            targets.add(found.imported)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One chain per strongly connected group of modules (Tarjan), each as a walk from its
    first module back to it: ["a", "b", "a"]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_walk(graph, group) for group in groups]


def _walk(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, within the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


# --- The rules ----------------------------------------------------------------------------


def test_no_import_cycle_among_chalicelib_modules() -> None:
    found = cycles(import_graph())

    assert found == [], "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_pure_modules_import_only_pure_modules_and_no_io_library() -> None:
    impure = [
        str(found)
        for found in chalicelib_imports()
        if found.importer in PURE
        and (
            (_ours(found.imported) and found.imported not in PURE)
            or any(
                found.imported == library or found.imported.startswith(library + ".")
                for library in IO_LIBRARIES
            )
        )
    ]

    assert impure == [], "pure modules reaching out: " + "; ".join(impure)


def test_only_web_and_services_import_services() -> None:
    strays = [
        str(found)
        for found in chalicelib_imports()
        if found.imported == SERVICES and found.importer not in MAY_IMPORT_SERVICES
    ]

    assert strays == [], "; ".join(strays)


def test_every_pure_module_named_is_there() -> None:
    # A rename would otherwise leave a rule that checks nothing.
    assert all(_is_module(name) for name in PURE)


# --- The reading itself -------------------------------------------------------------------


def test_imports_are_found_at_any_depth_and_relative_ones_resolved() -> None:
    # GIVEN a module of chalicelib importing at module level, under TYPE_CHECKING, inside
    #       a function, relatively, and a name (not a module) from the package
    source = "\n".join(
        [
            "from typing import TYPE_CHECKING",
            "import chalicelib.errors",
            "from chalicelib import services",
            "from chalicelib import __name__ as package_name",
            "if TYPE_CHECKING:",
            "    from chalicelib.archive import Archive",
            "def later():",
            "    from .refresh import Scheduler",
            "    from . import analytics",
        ]
    )

    # WHEN it is read
    found = {(i.imported, i.line) for i in imports_of(source, "chalicelib.example")}

    # THEN each import is there, by module, with its line
    assert found == {
        ("typing", 1),
        ("chalicelib.errors", 2),
        ("chalicelib.services", 3),
        ("chalicelib", 4),
        ("chalicelib.archive", 6),
        ("chalicelib.refresh", 8),
        ("chalicelib.analytics", 9),
    }


def test_a_cycle_is_told_as_a_chain() -> None:
    # GIVEN a -> b -> c -> a, and d -> a outside it
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    # WHEN / THEN the cycle is one chain from its first module back to it
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
