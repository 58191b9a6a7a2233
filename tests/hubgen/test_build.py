"""hubgen build: layout, dedup, parts, SHA256SUMS, determinism, incremental updates, bad input."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.hashing import sha256_bytes, sha256_file
from hubgen import build as build_mod
from hubgen.blobs import BlobStore
from hubgen.build import build_hub
from hubgen.errors import BuildError, RecipeError, VersionConflictError
from tests.hubgen.support import HUB_YAML, regressor_folder


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in layout.PRIVATE_NAMES}


def _blobs(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs").rglob("*") if p.is_file()}


def _index(root: Path) -> hubfiles.Index:
    return hubfiles.parse_index(jsonstrict.loads((root / "index.json").read_bytes()), "index")


def _manifest(root: Path, name: str, version: str) -> hubfiles.Manifest:
    data = (root / hubfiles.manifest_path(name, version)).read_bytes()
    return hubfiles.parse_manifest(jsonstrict.loads(data), "m", name=name, version=version)


def test_layout_and_dedup(hub_yaml, base_and_finetune, tmp_path):
    out = tmp_path / "hub"
    summary = build_hub(hub_yaml, out)
    base, tuned = base_and_finetune
    index = _index(out)
    assert index.name == "test-hub" and index.mirrors[1] == "https://mirror.example.net/hub/"
    assert index.models["esol"].latest == "1.1.0" and set(index.models) == {"esol", "esol-ft"}
    for name, model in index.models.items():
        for version, ref in model.versions.items():
            data = (out / ref.manifest).read_bytes()
            assert ref.manifest == f"models/{name}/{version}/manifest.json"
            assert sha256_bytes(data) == ref.sha256
            assert ref.size == len(data)
    m = _manifest(out, "esol", "1.0.0")
    assert [f.path for f in m.files] == sorted(p.name for p in base.iterdir())
    assert "README.md" in [f.path for f in m.files]
    assert m.card["license"] == "MIT" and m.card["dataset"] == "delaney" and m.class_name.endswith("Regressor")
    for f in m.files:
        assert sha256_file(base / f.path) == f.sha256 == sha256_file(out / hubfiles.blob_path(f.sha256))
    # the fine-tune shares the frozen body: only its head and params.json are new blobs
    all_files = {sha256_file(p) for folder in base_and_finetune for p in folder.iterdir()}
    assert _blobs(out) == all_files
    assert len(all_files) == 5 + 2  # base: 3 weights, params, card; tuned: head, params
    assert summary.versions == 3 and summary.versions_new == 3 and summary.models == 2
    tuned_bytes = sum(p.stat().st_size for p in tuned.iterdir())
    assert summary.bytes_reused == tuned_bytes + (tuned / "mtr-layers.0-0.npy").stat().st_size \
        + (tuned / "mtr-layers.0-1.npy").stat().st_size
    assert summary.bytes_new == sum(p.stat().st_size for p in out.joinpath("blobs").rglob("*") if p.is_file())
    assert (out / ".nojekyll").read_bytes() == b""


def test_index_grows_little_per_model(write_yaml, base_and_finetune, tmp_path):
    entries = "".join(f"  - {{name: model-{i:03d}, version: '1.0.{i}', path: base}}\n" for i in range(50))
    path = write_yaml("name: big\nmodels:\n" + entries)
    build_hub(path, tmp_path / "hub")
    assert (tmp_path / "hub/index.json").stat().st_size / 50 < 300


def test_sha256sum_checks_every_file(hub_yaml, tmp_path):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out, part_size=1000)
    listed = [line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()]
    assert listed == sorted(listed)
    assert set(listed) == set(_tree(out)) - {"SHA256SUMS"}
    assert layout.BUILD_CACHE_FILE not in listed
    done = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    blob = next(p for p in (out / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"x" + blob.read_bytes()[1:])
    done = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert done.returncode != 0 and blob.name in done.stdout


def test_large_files_are_stored_as_parts(hub_yaml, base_and_finetune, tmp_path):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out, part_size=1000)
    base = base_and_finetune[0]
    big = next(f for f in _manifest(out, "esol", "1.0.0").files if f.path == "mtr-layers.0-0.npy")
    size = (base / big.path).stat().st_size
    assert big.size == size and len(big.parts) == -(-size // 1000)
    assert [p.size for p in big.parts[:-1]] == [1000] * (len(big.parts) - 1)
    joined = b"".join((out / hubfiles.blob_path(p.sha256)).read_bytes() for p in big.parts)
    assert joined == (base / big.path).read_bytes()
    assert not (out / hubfiles.blob_path(big.sha256)).exists()  # stored only as its parts
    assert all(p.stat().st_size <= 1000 for p in (out / "blobs").rglob("*") if p.is_file())
    small = next(f for f in _manifest(out, "esol", "1.0.0").files if f.path == "README.md")
    assert small.parts == ()


def test_part_size_from_yaml(write_yaml, base_and_finetune, tmp_path):
    path = write_yaml("name: h\npart_size: 4096\nmodels:\n  - {name: m, version: '1', path: base}\n")
    build_hub(path, tmp_path / "hub")
    big = next(f for f in _manifest(tmp_path / "hub", "m", "1").files if f.path == "mtr-layers.0-0.npy")
    assert [p.size for p in big.parts] == [4096, 4096, 128]


def test_deterministic_and_source_date_epoch(hub_yaml, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build_hub(hub_yaml, tmp_path / "a", part_size=1000)
    build_hub(hub_yaml, tmp_path / "b", part_size=1000)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _index(tmp_path / "a").generated == "2023-11-14T22:13:20Z"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    build_hub(hub_yaml, tmp_path / "c", part_size=1000)
    build_hub(hub_yaml, tmp_path / "d", part_size=1000)
    assert _tree(tmp_path / "c") == _tree(tmp_path / "d")  # without it: the newest input's mtime


def test_a_touched_yaml_file_changes_nothing_and_a_real_change_moves_the_date(hub_yaml, tmp_path, monkeypatch):
    """``generated`` is the newest input's mtime, but an mtime that moved alone (a fresh clone, an editor's save
    of the same text) is no change: the rebuild leaves every file as it was, the date and version included."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    before, first = _tree(out), _index(out)
    later = hub_yaml.stat().st_mtime + 3600
    hub_yaml.write_text(hub_yaml.read_text())
    os.utime(hub_yaml, (later, later))
    build_hub(hub_yaml, out)
    assert _tree(out) == before  # index.json, the catalogue, the sums
    hub_yaml.write_text(hub_yaml.read_text().replace("title: Test hub", "title: Test hub, renamed"))
    os.utime(hub_yaml, (later, later))
    build_hub(hub_yaml, out)
    renamed = _index(out)
    assert renamed.title == "Test hub, renamed" and renamed.version == first.version + 1
    assert renamed.generated == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(later))) != first.generated


def test_rebuild_writes_and_hashes_nothing(hub_yaml, base_and_finetune, tmp_path, monkeypatch):
    out = tmp_path / "hub"
    first = build_hub(hub_yaml, out)
    # each source file is read once, though "tuned" is published twice
    assert first.bytes_hashed == sum(p.stat().st_size for d in base_and_finetune for p in d.iterdir())
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    reads = []
    real_read = BlobStore._read
    monkeypatch.setattr(BlobStore, "_read", lambda self, source, **kw: reads.append(source) or real_read(
        self, source, **kw))
    second = build_hub(hub_yaml, out)
    assert reads == [] and second.bytes_hashed == 0 and second.bytes_new == 0
    assert second.bytes_reused == second.bytes_total
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before  # not even index.json or SHA256SUMS were rewritten


def test_changed_file_is_rehashed_and_new_version_added(hub_yaml, write_yaml, base_and_finetune, arrays, tmp_path):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    old_bytes = _tree(out)
    regressor_folder(tmp_path / "v2", dict(arrays, **{"mtr-head-0": arrays["mtr-head-0"] * 3}))
    write_yaml(HUB_YAML + "  - name: esol\n    version: 2.0.0\n    path: v2\n")
    summary = build_hub(hub_yaml, out)
    assert summary.versions_new == 1 and summary.versions == 4
    assert 0 < summary.bytes_new < summary.bytes_hashed < summary.bytes_total
    new_tree = _tree(out)
    for path, data in old_bytes.items():  # older versions' bytes and manifests never change
        if path.startswith(("blobs/", "models/")) and not path.endswith("/index.html"):  # model pages list new versions
            assert new_tree[path] == data
    assert _index(out).models["esol"].latest == "2.0.0"
    # dropping a version from the YAML does not unpublish it
    write_yaml("name: test-hub\nmodels:\n  - {name: other, version: '1', path: base}\n")
    build_hub(hub_yaml, out)
    index = _index(out)
    assert set(index.models) == {"esol", "esol-ft", "other"} and len(index.models["esol"].versions) == 3


def test_explicit_latest(write_yaml, base_and_finetune, tmp_path):
    path = write_yaml("name: h\nmodels:\n  - {name: m, version: '1.0', path: base, latest: true}\n"
                      "  - {name: m, version: '1.10', path: tuned}\n  - {name: n, version: 'beta', path: base}\n"
                      "  - {name: n, version: 'alpha', path: tuned}\n")
    build_hub(path, tmp_path / "hub")
    index = _index(tmp_path / "hub")
    assert index.models["m"].latest == "1.0" and index.models["n"].latest == "beta"


def test_version_with_different_bytes_is_refused(hub_yaml, base_and_finetune, arrays, tmp_path):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    before = _tree(out)
    shutil.rmtree(tmp_path / "tuned")
    regressor_folder(tmp_path / "tuned", dict(arrays, **{"mtr-head-0": arrays["mtr-head-0"] - 5}))
    with pytest.raises(VersionConflictError, match=r"esol@1.1.0 already exists .* with different bytes "
                       r"\(mtr-head-0.npy, params.json\).*bump the version"):
        build_hub(hub_yaml, out)
    assert _tree(out) == before


@pytest.mark.parametrize("breakage, error, message", [
    (lambda d: shutil.rmtree(d), BuildError, r"hub_manifest.yaml:\d+: models\[1\] \(esol@1.1.0\): pretrained "
                                             r"folder .*tuned does not exist; give a 'recipe'"),
    (lambda d: (d / "params.json").unlink(), BuildError, "invalid pretrained folder: .*no params.json"),
    (lambda d: (d / "stray.npy").write_bytes(b"x"), BuildError, "not listed in params.json: stray.npy"),
    (lambda d: (d / "sub").mkdir(), BuildError, "is a subfolder; pretrained folders .* hold only files"),
    (lambda d: (d / ".DS_Store").write_bytes(b"x"), BuildError, "hidden file"),
    (lambda d: os.mkfifo(d / "pipe"), BuildError, r"pipe is not a regular file"),
    (lambda d: (d / "mtr-head-0.npy").write_bytes((d / "mtr-head-0.npy").read_bytes()[:-4] + b"\0\0\0\1"),
     BuildError, "sha256 .* differs from .* in params.json"),
])
def test_bad_folder(hub_yaml, base_and_finetune, tmp_path, breakage, error, message):
    breakage(base_and_finetune[1])
    with pytest.raises(error, match=message):
        build_hub(hub_yaml, tmp_path / "hub")
    assert not (tmp_path / "hub" / "index.json").exists()
    assert not list((tmp_path / "hub").rglob("blobs/sha256/*/*"))  # blobs of the failed build were removed


def test_foreign_output_folder_refused(hub_yaml, tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("precious")
    with pytest.raises(BuildError, match="not empty and holds no hub"):
        build_hub(hub_yaml, tmp_path / "home")


def test_failed_blob_write_keeps_previous_hub(hub_yaml, write_yaml, arrays, tmp_path, monkeypatch):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    before = _tree(out)
    regressor_folder(tmp_path / "v2", {k: v * 7 for k, v in arrays.items()})
    write_yaml(HUB_YAML + "  - name: esol\n    version: 2.0.0\n    path: v2\n")
    calls = []

    def failing(real):  # the third new blob, small (linked into place) or large (renamed from a temp file)
        def put(self, blob, *args):
            calls.append(blob)
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
            return real(self, blob, *args)
        return put

    monkeypatch.setattr(BlobStore, "_commit", failing(BlobStore._commit))
    monkeypatch.setattr(BlobStore, "_put_small", failing(BlobStore._put_small))
    with pytest.raises(OSError, match="No space left"):
        build_hub(hub_yaml, out)
    assert _tree(out) == before  # same index, sums, manifests, and no new blobs
    assert not (out / ".hubgen-tmp").exists()
    monkeypatch.undo()
    assert build_hub(hub_yaml, out).versions_new == 1


KILLER = """
import os, sys
from hubgen.blobs import BlobStore
count = [0]
def killing(real):  # killed at the second new blob, small (linked into place) or large (renamed)
    def put(self, blob, *args):
        count[0] += 1
        if count[0] == 2:
            os.kill(os.getpid(), 9)
        return real(self, blob, *args)
    return put
BlobStore._commit = killing(BlobStore._commit)
BlobStore._put_small = killing(BlobStore._put_small)
from hubgen.build import build_hub
build_hub(sys.argv[1], sys.argv[2])
"""


def test_killed_build_leaves_previous_index_valid(hub_yaml, write_yaml, arrays, tmp_path):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    index_before = (out / "index.json").read_bytes()
    regressor_folder(tmp_path / "v2", {k: v * 7 for k, v in arrays.items()})
    write_yaml(HUB_YAML + "  - name: esol\n    version: 2.0.0\n    path: v2\n")
    done = subprocess.run([sys.executable, "-c", KILLER, str(hub_yaml), str(out)], capture_output=True)
    assert done.returncode == -9
    assert (out / "index.json").read_bytes() == index_before
    from hubgen.verify import verify_hub
    assert verify_hub(out).ok
    build_hub(hub_yaml, out)  # the next build completes, and cleans the temp files
    assert "2.0.0" in _index(out).models["esol"].versions and not (out / ".hubgen-tmp").exists()
    assert verify_hub(out).ok


RECIPE = """
import numpy as np
from dchub_client.format.pretrained import write_pretrained
CALLS = []
def make(output_dir):
    CALLS.append(output_dir)
    write_pretrained(output_dir, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={}, weights=[("w-0", "w", np.arange(10, dtype=np.float32))])
def broken(output_dir):
    raise RuntimeError("training diverged")
"""


def test_recipe_produces_missing_folder(write_yaml, tmp_path, monkeypatch):
    (tmp_path / "my_recipes.py").write_text(RECIPE)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_yaml("name: h\nmodels:\n  - {name: m, version: '1', path: made/m, recipe: 'my_recipes:make'}\n")
    build_hub(path, tmp_path / "hub")
    import my_recipes
    assert len(my_recipes.CALLS) == 1 and (tmp_path / "made/m/w-0.npy").is_file()
    build_hub(path, tmp_path / "hub")
    assert len(my_recipes.CALLS) == 1  # the folder exists: not run again
    build_hub(path, tmp_path / "hub", rebuild=True)  # deterministic recipe: same bytes, no conflict
    assert len(my_recipes.CALLS) == 2
    bad = write_yaml("name: h\nmodels:\n  - {name: m, version: '2', path: x, recipe: 'my_recipes:broken'}\n", "b.yaml")
    with pytest.raises(RecipeError, match="recipe 'my_recipes:broken' failed: RuntimeError: training diverged"):
        build_hub(bad, tmp_path / "hub")
    missing = write_yaml("name: h\nmodels:\n  - {name: m, version: '2', path: x, recipe: 'nope.mod:f'}\n", "c.yaml")
    with pytest.raises(RecipeError, match="cannot import recipe 'nope.mod:f'"):
        build_hub(missing, tmp_path / "hub")
    assert not (tmp_path / "x").exists()


PARALLEL_RECIPE = """
import os, time
import numpy as np
from dchub_client.format.pretrained import write_pretrained
def make(output_dir):
    time.sleep(0.5)  # both workers are busy at once
    write_pretrained(output_dir, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={}, weights=[("w-0", "w", np.arange(10, dtype=np.float32))],
                     files={"pid.txt": f"{os.getpid()} {os.environ.get('OMP_NUM_THREADS')}".encode()})
def broken(output_dir):
    raise RuntimeError("training diverged in a worker")
"""


def test_recipes_run_in_worker_processes_with_jobs(write_yaml, tmp_path, monkeypatch):
    (tmp_path / "par_recipes.py").write_text(PARALLEL_RECIPE)
    monkeypatch.chdir(tmp_path)
    models = "".join(f"  - {{name: m{i}, version: '1', path: made/m{i}, recipe: 'par_recipes:make'}}\n"
                     for i in range(3))
    path = write_yaml("name: h\nmodels:\n" + models)
    build_hub(path, tmp_path / "hub", jobs=2)
    seen = [(tmp_path / f"made/m{i}/pid.txt").read_text().split() for i in range(3)]
    pids = {pid for pid, _ in seen}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # two workers, none of them this process
    assert {threads for _, threads in seen} == {"1"}  # each worker single-threaded
    assert len(_index(tmp_path / "hub").models) == 3
    bad = write_yaml("name: h\nmodels:\n  - {name: m, version: '2', path: x, recipe: 'par_recipes:make'}\n"
                     "  - {name: n, version: '1', path: y, recipe: 'par_recipes:broken'}\n", "b.yaml")
    with pytest.raises(RecipeError, match="recipe 'par_recipes:broken' failed: RuntimeError: training diverged"):
        build_hub(bad, tmp_path / "hub", jobs=2)
    assert not (tmp_path / "y").exists()


def test_site_hook_is_called_before_the_index(hub_yaml, tmp_path, monkeypatch):
    seen = {}

    def render_site(out_dir, *, index, manifests, only_changed=False, on_write=None, workers=None):
        seen["index_exists"] = (out_dir / "index.json").exists()
        seen["manifests"] = sorted(manifests)
        (out_dir / "index.html").write_text("<html></html>")

    monkeypatch.setattr(build_mod.site_render, "render_site", render_site)
    build_hub(hub_yaml, tmp_path / "hub")
    assert seen == {"index_exists": False, "manifests": [("esol", "1.0.0"), ("esol", "1.1.0"), ("esol-ft", "0.1")]}
    assert "index.html" in (tmp_path / "hub/SHA256SUMS").read_text()


def test_damaged_published_manifest_stops_the_build(hub_yaml, tmp_path):
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    manifest = out / hubfiles.manifest_path("esol", "1.0.0")
    manifest.write_bytes(manifest.read_bytes().replace(b'"esol"', b'"eso1"'))
    before = _tree(out)
    with pytest.raises(BuildError, match=r"cannot read a published manifest; the hub is damaged \(run hubgen verify "
                                         r".*esol/1\.0\.0/manifest\.json"):
        build_hub(hub_yaml, out)
    assert _tree(out) == before


def test_a_cache_snapshot_folder_is_a_build_input(tmp_path):
    """The folder ``dchub pull`` prints is a pretrained folder: ``hubgen build`` takes it as is (the cache's own
    marker left in place and unpublished), and the model loads from the new hub; other hidden files are refused."""
    from tests._support.folders import load_weights, make_folder
    from tests._support.hubs import build_hub as build_test_hub

    source = make_folder(tmp_path / "src" / "esol-mtr", seed=3, n_weights=3, size=500)
    first = build_test_hub(tmp_path, {("esol-mtr", "1.0.0"): source}, out="first")
    bin_dir = Path(sys.executable).parent

    def pull(hub: Path, cache: Path, spec: str) -> Path:
        env = dict(os.environ, DEEPCHEM_MODEL_HUB=str(hub), DEEPCHEM_HUB_CACHE=str(cache))
        done = subprocess.run([str(bin_dir / "dchub"), "pull", "-q", spec], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return Path(done.stdout.strip().splitlines()[-1])

    snapshot = pull(first, tmp_path / "cache", "esol-mtr@1.0.0")
    assert (snapshot / layout.SNAPSHOT_MARKER).is_file()
    marker = (snapshot / layout.SNAPSHOT_MARKER).read_bytes()
    yaml = tmp_path / "lab.yaml"
    yaml.write_text(f"name: lab\nmodels:\n  - name: esol-mtr\n    version: '2.0'\n    path: {snapshot}\n")
    done = subprocess.run([str(bin_dir / "hubgen"), "build", str(yaml), "--out", str(tmp_path / "lab")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (snapshot / layout.SNAPSHOT_MARKER).read_bytes() == marker  # the cache is untouched
    files = {f.path for f in _manifest(tmp_path / "lab", "esol-mtr", "2.0").files}
    assert files == {p.name for p in source.iterdir()}  # the marker is not published

    again = pull(tmp_path / "lab", tmp_path / "cache2", "esol-mtr@2.0")
    loaded, original = load_weights(again), load_weights(source)
    assert loaded.keys() == original.keys() and all((loaded[k] == original[k]).all() for k in loaded)

    copy = tmp_path / "copy"
    shutil.copytree(snapshot, copy)
    (copy / ".DS_Store").write_bytes(b"x")
    yaml.write_text(f"name: lab\nmodels:\n  - name: esol-mtr\n    version: '2.1'\n    path: {copy}\n")
    with pytest.raises(BuildError, match=r"hidden file .*\.DS_Store"):
        build_hub(yaml, tmp_path / "lab")


def test_the_builds_bookkeeping_is_readable_by_its_owner_only(hub_yaml, tmp_path):
    """The hash cache names the builder's own files by absolute path: a web server running as another user,
    serving the hub folder, must not show it (hubgen publish never sends it). Also when an older version
    left it readable: the next build, even one with nothing to do, closes it."""
    out = tmp_path / "hub"
    build_hub(hub_yaml, out)
    private = sorted(p for p in out.iterdir() if p.name in layout.PRIVATE_NAMES and p.is_file())
    assert {p.name for p in private} == {layout.BUILD_CACHE_FILE, layout.SITE_CACHE_FILE, layout.SITE_PAGES_FILE}
    assert str(tmp_path) in (out / layout.BUILD_CACHE_FILE).read_text()  # what there is to hide
    assert {stat.S_IMODE(p.stat().st_mode) for p in private} == {0o600}
    assert stat.S_IMODE((out / "index.json").stat().st_mode) & 0o004  # the hub itself is for everyone
    for path in private:
        path.chmod(0o644)
    build_hub(hub_yaml, out)  # nothing changed
    assert {stat.S_IMODE(p.stat().st_mode) for p in private} == {0o600}
