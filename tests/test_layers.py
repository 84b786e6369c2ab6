"""The layout shows the architecture (docs/architecture.md, "Layers"): the core never imports
the packages built on it, the channels never import the HTTP layer, and no two modules import
each other, however indirectly. Read from the sources' own import statements."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from queue_server.api.schemas import TicketStateOut
from queue_server.models import Ticket, TicketState
from queue_server.views import ticket_state_view
from tests.test_records import TICKET

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("qms", "queue_server", "displays", "counters", "monitoring", "simulations")
ABOVE_THE_CORE = ("qms", "displays", "counters", "monitoring", "simulations")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's own scripts, run by it
            yield module_name(path), path


def imports(path: Path, module: str, *, top_level_only: bool) -> set[str]:
    """The project modules ``path`` imports (``TYPE_CHECKING`` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = module.rsplit(".", node.level)[0]
                found.add(f"{base}.{node.module}" if node.module else base)
            if not top_level_only:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child])
                    else:
                        visit([n for n in ast.walk(child) if isinstance(n, ast.stmt)])
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)

    visit(tree.body)
    return {name for name in found if name.split(".")[0] in PACKAGES}


ALL = dict(sources())


def resolve(name: str) -> str | None:
    """The module of the project an imported name belongs to."""
    while name and name not in ALL:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("module", sorted(m for m in ALL if m.startswith("queue_server")))
def test_the_core_imports_nothing_built_on_it(module: str) -> None:
    above = {name for name in imports(ALL[module], module, top_level_only=False)
             if name.split(".")[0] in ABOVE_THE_CORE}
    assert not above, f"{module} imports {sorted(above)}"


def test_the_channels_do_not_import_the_http_layer() -> None:
    for module, path in ALL.items():
        if module.startswith("queue_server.live"):
            http = {n for n in imports(path, module, top_level_only=False)
                    if n.startswith("queue_server.api")}
            assert not http, f"{module} imports {sorted(http)}"


def test_no_import_circles() -> None:
    graph = {module: {r for name in imports(path, module, top_level_only=True)
                      if (r := resolve(name)) and r != module}
             for module, path in ALL.items()}
    # A package's __init__ importing its own submodules is not a circle of design.
    for module in graph:
        graph[module] = {d for d in graph[module] if not module.startswith(d + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    assert not circles, f"modules that import each other: {circles}"


def test_a_tickets_state_is_one_view_for_http_and_sockets() -> None:
    state = TicketState(Ticket.from_record(TICKET), 3, 60, 1, 5, "hash", 99, False)
    view = ticket_state_view(state)
    assert TicketStateOut.of(state).model_dump() == view
    assert "token_hash" not in view and view["ticket"]["center"] == "07054"
