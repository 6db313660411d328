"""The device package calls in one direction: each module imports only modules below it."""

from __future__ import annotations

import ast
from pathlib import Path

import content_service.device as device

#: Bottom first; the order docs/threat-model.md and the package docstring describe.
LAYERS = [
    "errors",
    "store",
    "state",
    "clock",
    "trust",
    "http",
    "outbox",
    "reports",
    "delta",
    "content",
    "licences",
    "downloads",
    "sync",
    "renewals",
    "mount",
    # The tenant's branding overlay: the agent's store, state, trust, API and reporter (a Protocol).
    "branding",
    # Reads a held bundle's folder, API and trust through the agent's parts (a Protocol).
    "assistant",
    "agent",
]


def _device_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("content_service.device.")
        ):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {
                a.name.split(".")[2] for a in node.names if a.name.startswith("content_service.device.")
            }
    return found


def test_every_module_of_the_device_package_has_a_layer() -> None:
    package = Path(device.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


def test_each_module_imports_only_modules_below_it() -> None:
    package = Path(device.__file__).parent
    for rank, name in enumerate(LAYERS):
        upward = {m for m in _device_imports(package / f"{name}.py") if LAYERS.index(m) >= rank}
        assert not upward, f"device/{name}.py imports {sorted(upward)}, which sit above it (or itself)"
