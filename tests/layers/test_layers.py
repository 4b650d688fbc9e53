"""The browser tree's layering rules, checked on the source (no browser, no Transcrypt).

``src_py/`` holds the pure core (``tinybert_core``), the services (no DOM), the UI (the only
DOM code) and the top-level modules that start things. Imports flow one way:
ui → services → core; ``app.py`` (the page's entry) builds all of them and ``api.py`` publishes
``window.tinybert``. These tests read every module's syntax tree for what an import linter
cannot see: JS globals, strings that import npm packages, assignments to ``window``.
"""
import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src_py"

TOP_LEVEL = {"app", "api", "settings", "tokenizer_worker"}
PACKAGES = {"tinybert_core", "services", "ui"}

# Globals only DOM code uses, and the DOM and dialogs reached through ``window``.
DOM_NAMES = {"document", "HTMLElement", "Element", "Node", "Event", "alert", "prompt", "confirm"}
WINDOW_DOM = {"document", "prompt", "confirm", "alert"}

# The npm package each runtime wrapper owns, and the one module allowed to import it.
NPM_OWNERS = {"onnxruntime-web": "services.encoder", "idb": "services.storage"}


def _module_name(path):
    return ".".join(path.relative_to(SRC).with_suffix("").parts)


def _modules():
    """{dotted name: syntax tree} of every module under src_py (``__init__`` files included)."""
    return {_module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
            for path in sorted(SRC.rglob("*.py"))}


MODULES = _modules()


def _layer(name):
    return name.split(".")[0]


def _imports(tree):
    """The project's top-level names imported by a module (``ui`` for ``from ui.page ...``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _window_attribute(node):
    """``x`` for ``window.x`` or ``globalThis.x``, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id in ("window", "globalThis"):
        return node.attr
    return None


def _dom_uses(tree):
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in DOM_NAMES:
            uses.append("%s (line %d)" % (node.id, node.lineno))
        elif _window_attribute(node) in WINDOW_DOM:
            uses.append("window.%s (line %d)" % (node.attr, node.lineno))
    return uses


def _npm_imports(tree, package):
    """Lines of the strings that import ``package`` (dynamic ``import("...")`` in a pragma, or a
    static ``from "..."``), with or without a subpath."""
    pattern = re.compile(r"""(?:import\(\s*|from\s+)["']%s(?:/[^"']*)?["']""" % re.escape(package))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and pattern.search(node.value)]


def test_every_module_is_in_a_layer():
    strays = [name for name in MODULES if name not in TOP_LEVEL and _layer(name) not in PACKAGES]
    assert strays == [], "modules outside the core, services and ui packages: %s" % strays


def test_only_ui_touches_the_dom():
    outside = {name: _dom_uses(tree) for name, tree in MODULES.items() if _layer(name) != "ui"}
    assert {name: uses for name, uses in outside.items() if uses} == {}
    # The rule is not empty: the UI does use the DOM and the dialogs.
    assert _dom_uses(MODULES["ui.dom"]) != []
    assert any("window.prompt" in use for use in _dom_uses(MODULES["ui.dialogs"]))


def test_only_api_assigns_the_automation_api():
    assigners = set()
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any((_window_attribute(t) or "").startswith("tinybert") for t in targets):
                assigners.add(name)
    assert assigners == {"api"}


@pytest.mark.parametrize("package", sorted(NPM_OWNERS))
def test_one_module_imports_each_runtime(package):
    importers = {name for name, tree in MODULES.items() if _npm_imports(tree, package)}
    assert importers == {NPM_OWNERS[package]}


def test_nothing_below_ui_imports_it():
    # app.py, the page's entry, builds the UI; api, services, core and the worker never see it.
    importers = {name for name, tree in MODULES.items()
                 if _layer(name) != "ui" and "ui" in _imports(tree)}
    assert importers == {"app"}


def test_services_import_neither_app_api_nor_ui():
    wrong = {name: sorted(_imports(tree) & {"app", "api", "ui"})
             for name, tree in MODULES.items() if _layer(name) == "services"}
    assert {name: names for name, names in wrong.items() if names} == {}


def test_core_imports_nothing_else_of_the_project():
    project = TOP_LEVEL | (PACKAGES - {"tinybert_core"})
    wrong = {name: sorted(_imports(tree) & project)
             for name, tree in MODULES.items() if _layer(name) == "tinybert_core"}
    assert {name: names for name, names in wrong.items() if names} == {}
