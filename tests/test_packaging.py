"""The build configuration ships every package of the source tree (pyproject.toml lists them)."""
from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _listed() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    mapped = config.get("package-dir", {})

    def folder(name: str) -> Path:  # setuptools maps a subpackage under its nearest mapped parent
        parent, rest = name, []
        while parent not in mapped and "." in parent:
            parent, last = parent.rsplit(".", 1)
            rest.insert(0, last)
        base = mapped[parent] if parent in mapped else parent.replace(".", "/")
        return ROOT.joinpath(base, *rest)

    return {name: folder(name) for name in config["packages"]}


def test_every_package_folder_is_listed_and_every_listed_package_exists() -> None:
    on_disk = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
               for top in ("dchub_client", "hubgen") for p in (ROOT / top).rglob("__init__.py")}
    listed = _listed()
    assert on_disk <= set(listed), f"add to [tool.setuptools] packages in pyproject.toml: {sorted(on_disk - set(listed))}"
    missing = [name for name, folder in listed.items() if not folder.is_dir()]
    assert not missing, f"listed in pyproject.toml but not a folder: {missing}"
    # a folder without __init__.py is listed only to ship data (setuptools warns when it is not listed)
    code_without_init = [name for name, folder in listed.items()
                         if not (folder / "__init__.py").is_file() and any(folder.glob("*.py"))]
    assert not code_without_init, f"Python files but no __init__.py: {code_without_init}"


def test_site_templates_ship_as_a_package() -> None:
    assert _listed()["hubgen.site.templates"] == ROOT / "site_templates"
