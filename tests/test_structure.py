"""The shape of the code: which way imports go (see DESIGN.md, "Which way imports go")."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SHOP = Path(__file__).resolve().parent.parent / "shop"
PLUMBING = {"config", "db", "web", "security", "forms", "i18n", "auth", "ratelimit"}
ASSEMBLY = {"app", "cli", "demo", "worker", "__main__", "__init__", "migrations"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SHOP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SHOP.rglob("*.py") if "migrations" not in p.parts}


def imports_of(name: str, path: Path) -> set[str]:
    """The shop modules this module imports anywhere in its text (functions included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    known = modules()
    return {m for m in found if m in known and m != name}


def area_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def area_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in modules().items():
        area = area_of(name)
        if not area or area in PLUMBING | ASSEMBLY:
            continue
        targets = {area_of(m) for m in imports_of(name, path)}
        graph.setdefault(area, set()).update(t for t in targets if t and t != area and t not in PLUMBING)
    return graph


def test_plumbing_imports_no_area():
    for name, path in modules().items():
        if area_of(name) in PLUMBING:
            areas = {area_of(m) for m in imports_of(name, path)} - PLUMBING - {""}
            assert not areas, f"{name} imports the areas {sorted(areas)}"


def test_no_import_cycle_between_areas():
    graph = area_graph()
    state: dict[str, str] = {}

    def visit(area: str, path: list[str]) -> None:
        state[area] = "open"
        for target in sorted(graph.get(area, ())):
            assert state.get(target) != "open", f"import cycle: {' → '.join(path + [target])}"
            if target not in state:
                visit(target, path + [target])
        state[area] = "done"

    for area in sorted(graph):
        if area not in state:
            visit(area, [area])


def test_no_area_imports_the_app_or_the_commands():
    for name, path in modules().items():
        if area_of(name) not in ASSEMBLY:
            assert not {"shop.app", "shop.cli", "shop.worker"} & imports_of(name, path), name


def test_catalogue_knows_nothing_of_carts_orders_or_accounts():
    for name, path in modules().items():
        if area_of(name) == "catalog":
            assert not {area_of(m) for m in imports_of(name, path)} & {"cart", "orders", "accounts", "wishlist"}


def test_services_and_models_import_no_routes_and_no_web():
    for name, path in modules().items():
        if name.rsplit(".", 1)[-1] in ("models", "service", "queries", "search", "importer", "texts"):
            bad = {m for m in imports_of(name, path) if m == "shop.web" or m.endswith(".routes")}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_area_packages_do_not_import_their_routes_on_import():
    for name, path in modules().items():
        if path.name == "__init__.py" and area_of(name):
            assert not imports_of(name, path), f"{name}/__init__.py imports {sorted(imports_of(name, path))}"


@pytest.mark.parametrize("model", sorted(m for m in modules() if m.endswith(".models")))
def test_importing_a_model_loads_no_web_code(model):
    code = (f"import sys, {model}; "
            "print(sorted(m for m in sys.modules if m in ('shop.web', 'jinja2', 'starlette.routing') "
            "or m.endswith('.routes')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", f"importing {model} loads {loaded.stdout.strip()}"
