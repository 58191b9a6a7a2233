"""Installing dchub from a wheel: the wheel holds the site templates, and an installed ``hubgen build``
renders the catalogue from a clean virtualenv, outside the source tree."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests._support.folders import make_folder
from tests._support.hubs import build_hub

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: the build backend is already installed here (the tests run offline)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    [found] = out.glob("dchub-*.whl")
    return found


def test_the_wheel_holds_the_packages_templates_and_console_scripts(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in ("base.html", "index.html", "model.html", "assets/site.css", "assets/search.js"):
        assert f"hubgen/site/templates/{template}" in names
    assert {"dchub_client/format/layout.py", "dchub_client/hub/resolve.py", "hubgen/build.py"} <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "dchub = dchub_client.cli:console" in text and "hubgen = hubgen.cli:main" in text


def test_hubgen_from_the_installed_wheel_renders_the_catalogue(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # The dependencies (numpy, jinja2, ...) come from this environment's site-packages, added as a plain
    # path: its .pth files (our editable install among them) are not processed, so dchub is the wheel's.
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    make_folder(tmp_path / "work" / "m", seed=1)
    (tmp_path / "work" / "hub_manifest.yaml").write_text(textwrap.dedent("""
        name: wheel-hub
        models:
          - {name: toy, version: "1.0", path: m, card: {description: a toy, license: MIT}}
        """))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run([str(venv / "bin" / "hubgen"), "build", "hub_manifest.yaml", "--out", "hub"],
                          cwd=tmp_path / "work", env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    where = subprocess.check_output([str(python), "-c", "import hubgen, sys; print(hubgen.__file__)"],
                                    cwd=tmp_path, env=env, text=True).strip()
    assert str(venv) in where, where  # the wheel's hubgen ran, not the source tree's
    hub = tmp_path / "work" / "hub"
    assert "toy" in (hub / "index.html").read_text() and (hub / "models" / "toy" / "index.html").is_file()
    assert (hub / "assets" / "site.css").read_bytes() == (ROOT / "site_templates" / "assets" / "site.css").read_bytes()


#: What ``pip install dchub`` brings (pyproject's dependencies and theirs), by import name.
CORE = ("numpy", "numpy.libs", "pooch", "requests", "urllib3", "charset_normalizer", "idna", "certifi",
        "platformdirs", "yaml", "_yaml", "jinja2", "markupsafe", "packaging", "tqdm")


def _core_only_venv(wheel: Path, where: Path) -> Path:
    """A clean virtualenv with the wheel and only its core dependencies (linked from this environment):
    no DeepChem, RDKit or framework, as after a plain ``pip install dchub``. Its ``bin`` folder."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    here = Path(sysconfig.get_paths()["purelib"])
    core = where / "core-deps"
    core.mkdir()
    for name in CORE:
        if (here / name).exists():
            (core / name).symlink_to(here / name)
    for module in here.glob("_yaml*"):
        if module.is_file():
            (core / module.name).symlink_to(module)
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "core-deps.pth").write_text(f"{core}\n")
    return venv / "bin"


def test_a_user_without_deepchem_is_told_what_to_install(wheel: Path, tmp_path: Path, serve) -> None:
    """``pip install dchub`` alone pulls models, and ``dchub predict`` says at once what else to install (it once
    downloaded the model, then blamed dchub's allowlist for a class whose package was simply not there)."""
    import dchub_client
    from tests.models.test_pipeline_outputs import _fingerprint_model

    model, featurizer = _fingerprint_model("regressor", 1)
    folder = dchub_client.to_pretrained(model, tmp_path / "src", featurizer=featurizer)
    hub = serve(build_hub(tmp_path, {("sol", "1.0"): folder}))
    bin_dir = _core_only_venv(wheel, tmp_path)
    cache = tmp_path / "cache"
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "DEEPCHEM_MODEL_HUB": hub.url,
           "DEEPCHEM_HUB_CACHE": str(cache)}
    lacking = subprocess.run([str(bin_dir / "python"), "-c", "import deepchem"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert "No module named 'deepchem'" in lacking.stderr  # really absent, not hidden

    done = subprocess.run([str(bin_dir / "dchub"), "predict", "sol", "CCO"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("dchub: error: dchub predict needs DeepChem, which is not installed: "
                           "pip install 'dchub[deepchem]'\n")
    assert not (cache / "blobs").exists()  # told before anything was downloaded

    pulled = subprocess.run([str(bin_dir / "dchub"), "pull", "-q", "sol"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert pulled.returncode == 0 and pulled.stdout.strip().endswith("sol/1.0"), pulled.stderr
    loading = subprocess.run([str(bin_dir / "python"), "-c", "import dchub_client; dchub_client.from_pretrained('sol')"],
                             env=env, capture_output=True, text=True, timeout=300)
    assert loading.returncode == 1
    assert loading.stderr.strip().splitlines()[-1] == (
        f"dchub_client.errors.MissingDependencyError: {cache}/snapshots/test-hub/sol/1.0/params.json: "
        "deepchem.models.fcnet.MultitaskRegressor needs DeepChem, which is not installed: pip install 'dchub[deepchem]'")
