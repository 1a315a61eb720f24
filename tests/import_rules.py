"""The import rules of `src/cinelake`, read from the source with `ast` (nothing is imported).

Layers, top to bottom: shells (the CLI, the Lambda handler), services (CSV and TMDB ingestion,
the Lambda build and deploy), the lake (its rules and the store), and leaf modules. A module may
import its own layer or a lower one, never a higher one; no two modules may import each other,
directly or through others; the two ingestion services stay apart; and the TMDB emulator in
`cinelake.testing` stands alone. Lazy imports inside functions count like any other.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

LAYERS: dict[str, tuple[str, ...]] = {
    "shell": (
        "cinelake.cli",
        "cinelake.aws_lambda.handler",
        "cinelake.lambda_handler",
        "cinelake.__main__",
    ),
    "service": (
        "cinelake.csv_ingest",
        "cinelake.tmdb",
        "cinelake.aws_lambda",
    ),
    "lake": ("cinelake.lake", "cinelake.store"),
    "leaf": (
        "cinelake.errors",
        "cinelake.settings",
        "cinelake.env_names",
        "cinelake.checksums",
        "cinelake.logs",
        "cinelake.stopping",
    ),
    "emulator": ("cinelake.testing",),
}
RANK = {"shell": 0, "service": 1, "lake": 2, "leaf": 3}
SEPARATE_SERVICES = ("cinelake.csv_ingest", "cinelake.tmdb")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_names(src: Path) -> dict[str, Path]:
    names = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(src: Path) -> list[Import]:
    """Every import of a cinelake module by a cinelake module, at any depth of the file."""
    modules = module_names(src)
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from cinelake import cli` imports the module `cinelake.cli`.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                if target in modules and target != name:
                    found.append(Import(name, target, node.lineno))
    return found


def layer_of(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), layer)
    if best is None and module == "cinelake":
        return "leaf"
    return None if best is None else best[1]


def circles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def violations(src: Path) -> list[str]:
    """Every broken rule, one readable line each; empty when the layout holds."""
    edges = imports_of(src)
    found = [
        f"import circle: {' <-> '.join(group)}; move what they share to a lower module"
        for group in circles(edges)
    ]
    found.extend(
        f"{name}: in no layer of tests/import_rules.py; add it to one"
        for name in module_names(src)
        if layer_of(name) is None
    )
    for edge in edges:
        upper, lower = layer_of(edge.importer), layer_of(edge.imported)
        where = f"{edge.importer} (line {edge.line}) imports {edge.imported}"
        if upper is None or lower is None:
            continue
        if "emulator" in {upper, lower} and upper != lower:
            found.append(f"{where}: the emulator stands alone")
        elif upper != "emulator" and RANK[lower] < RANK[upper]:
            found.append(f"{where}: a {upper} module may not import a {lower} module")
        elif upper == lower == "service":
            sides = {
                prefix
                for prefix in SEPARATE_SERVICES
                for module in (edge.importer, edge.imported)
                if module.startswith(prefix)
            }
            if len(sides) > 1:
                found.append(f"{where}: the two ingestion services stay apart")
    return found
