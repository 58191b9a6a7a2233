"""The package's layers import one way (docs/architecture.md): checked on every module's imports."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("dchub_client.cmdline", "dchub_client.constants", "dchub_client.errors", "dchub_client.humanize", "dchub_client.quiet",
          "dchub_client.terminal")

#: layer -> the dchub modules it may import (prefixes). Everything may import SHARED.
ALLOWED = {
    "dchub_client.format": ("dchub_client.format",),
    "dchub_client.hub": ("dchub_client.format", "dchub_client.hub"),
    "dchub_client.models": ("dchub_client.format", "dchub_client.models"),
    "dchub_client.cli": ("dchub_client",),
    "hubgen": ("dchub_client.format", "dchub_client.hub", "hubgen"),
}
#: The models layer reaches the hub client in exactly one place.
MODELS_TO_HUB = {("dchub_client.models.interface", "dchub_client.hub.resolve")}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("dchub_client", "hubgen"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.split(".")[0] in ("dchub_client", "hubgen")}


def _layer(module: str) -> str | None:
    return next((layer for layer in sorted(ALLOWED, key=len, reverse=True)
                 if module == layer or module.startswith(layer + ".")), None)


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_respect_the_layers(module: str, path: Path) -> None:
    layer = _layer(module)
    if layer is None:
        return  # the package roots and shared modules
    allowed = ALLOWED[layer] + SHARED
    bad = []
    for name in _imports(path):
        if name in ("dchub_client", "hubgen") or any(name == a or name.startswith(a + ".") for a in allowed):
            continue
        if (module, name) in MODELS_TO_HUB or any(name.startswith(h + ".") for m, h in MODELS_TO_HUB if m == module):
            continue
        if name.startswith(("dchub_client.hub", "dchub_client.models", "dchub_client.cli", "hubgen")):
            bad.append(name)
    assert not bad, f"{module} ({layer} layer) imports {sorted(bad)}; see docs/architecture.md"


def test_the_client_never_imports_hubgen() -> None:
    offenders = [m for m, path in _modules() if m.startswith("dchub_client") and
                 any(n.startswith("hubgen") for n in _imports(path))]
    assert offenders == []


def _late_imports_without_reason(path: Path) -> list[str]:
    """Imports of dchub's own modules inside functions with no comment on them or on the imports just above."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for func in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            ours = getattr(node, "level", 0) > 0 or (module or "").split(".")[0] in ("dchub_client", "hubgen")
            if ours and not _has_reason(lines, node.lineno, node.end_lineno or node.lineno):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def _has_reason(lines: list[str], first: int, last: int) -> bool:
    if any("#" in line for line in lines[first - 1:last]):
        return True
    for line in reversed(lines[:first - 1]):  # the block of imports (and blank lines) right above
        stripped = line.strip()
        if "#" in stripped:
            return True
        if stripped and not stripped.startswith(("from ", "import ")):
            return False
    return False


def test_every_late_import_of_our_own_modules_says_why() -> None:
    """A function-level import of dchub's own code (to start fast, or to break a cycle) carries its reason."""
    missing = [line for _, path in _modules() for line in _late_imports_without_reason(path)]
    assert not missing, "add a one-line reason (a comment) to:\n" + "\n".join(missing)
