"""The import-layer contract: data flows one way, and so do imports (docs/architecture.md has the map).

Every ``import`` in the project is read from the source (those inside functions too), so a cycle cannot hide
behind a local import. The rules:

* ``graphgate.core`` imports nothing of graphgate but itself, and no web framework or chat SDK;
* ``graphgate.gateway`` (the HTTP app), ``graphgate.workers`` and ``graphgate.connectors`` build on the core
  and never import one another;
* ``graphgate.cli`` is the composition root: it alone wires them together;
* nothing in the product imports ``graphgate.testing``, ``tests`` or ``bench``; ``bench`` never imports
  ``tests`` (both use ``graphgate.testing``);
* nobody imports the folders by their old top-level names (``gateway``, ``workers``, ``connectors``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# where each part of the graphgate namespace lives in the source tree
PARTS = {
    "graphgate": ROOT / "graphgate",
    "graphgate.gateway": ROOT / "gateway",
    "graphgate.workers": ROOT / "workers",
    "graphgate.connectors": ROOT / "connectors",
}
OLD_NAMES = ("gateway", "workers", "connectors")
WEB_AND_CHAT = ("fastapi", "starlette", "sse_starlette", "uvicorn", "slack_bolt", "slack_sdk", "telegram", "aiohttp")
LAYERS = {  # who may import which parts of graphgate (a part always may import itself)
    "graphgate.core": {"graphgate.core"},
    "graphgate.gateway": {"graphgate.core"},
    "graphgate.workers": {"graphgate.core"},
    "graphgate.connectors": {"graphgate.core"},
}
PRODUCT = ("graphgate.core", "graphgate.gateway", "graphgate.workers", "graphgate.connectors", "graphgate.cli")


def _modules() -> Iterator[tuple[str, Path]]:
    for prefix, folder in PARTS.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            if prefix == "graphgate" and parts and parts[0] in ("gateway", "workers", "connectors"):
                continue
            yield ".".join([prefix, *parts]), path
    for folder in ("tests", "bench", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield ".".join(p for p in path.relative_to(ROOT).with_suffix("").parts if p != "__init__"), path


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (absolute names), with its line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name, node.lineno
            for alias in node.names:  # "from graphgate.core import tasks" imports graphgate.core.tasks
                yield f"{name}.{alias.name}", node.lineno


def _part(name: str) -> str | None:
    for part in (*LAYERS, "graphgate.cli", "graphgate.testing"):
        if name == part or name.startswith(part + "."):
            return part
    return None


MODULES = list(_modules())


def test_the_source_tree_is_where_the_contract_looks() -> None:
    names = {m for m, _ in MODULES}
    for expected in (
        "graphgate.core.tasks",
        "graphgate.gateway.app",
        "graphgate.workers.run",
        "graphgate.connectors.slack.app",
        "graphgate.cli.main",
    ):
        assert expected in names


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_follow_the_layers(module: str, path: Path) -> None:
    where = _part(module)
    wrong: list[str] = []
    for name, line in _imports(module, path):
        top = name.split(".")[0]
        if top in OLD_NAMES:
            wrong.append(f"line {line}: {name} (the old top-level name; use graphgate.{name})")
            continue
        target = _part(name)
        if where in LAYERS and target is not None and target not in LAYERS[where] and target != where:
            wrong.append(f"line {line}: {name} ({where} may import only {sorted(LAYERS[where])})")
        if where == "graphgate.core" and top in WEB_AND_CHAT:
            wrong.append(f"line {line}: {name} (the core imports no web framework or chat SDK)")
        if where in PRODUCT and (top in ("tests", "bench") or target == "graphgate.testing"):
            wrong.append(f"line {line}: {name} (the product never imports test code)")
        if module.startswith("bench") and top == "tests":
            wrong.append(f"line {line}: {name} (bench shares graphgate.testing with the tests, not tests/)")
    assert not wrong, f"{module} ({path.relative_to(ROOT)}):\n" + "\n".join(wrong)
