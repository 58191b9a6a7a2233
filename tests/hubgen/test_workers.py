"""hubgen build in worker processes: the same hub, byte for byte, as a build in one process; failures undone."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format import layout
from hubgen import workers
from hubgen.build import build_hub
from hubgen.errors import BuildError
from hubgen.site import render
from tests.hubgen.support import regressor_folder

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in layout.PRIVATE_NAMES}


def _models(root: Path, count: int, *, shared: int = 0) -> list[str]:
    """*count* small regressor folders under *root* (the first *shared* identical: their blobs are shared
    between versions published by different workers); their manifest entries."""
    rng = np.random.default_rng(7)
    same = {"m-dense-0": rng.random((8, 4), dtype=np.float32), "m-dense-1": rng.random(4, dtype=np.float32)}
    lines = []
    for i in range(count):
        weights = same if i < shared else {"m-dense-0": rng.random((8, 4), dtype=np.float32),
                                           "m-dense-1": rng.random(4, dtype=np.float32)}
        regressor_folder(root / f"src-{i:02d}", weights, card=f"# model {i}\n\nA small regressor.\n".encode())
        lines.append(f"  - {{name: model-{i:02d}, version: '1.0', path: src-{i:02d}, card: {{license: MIT}}}}\n")
    return lines


def _hub_yaml(root: Path, lines: list[str]) -> Path:
    path = root / "hub_manifest.yaml"
    path.write_text("name: many\ntitle: Many models\nmodels:\n" + "".join(lines), encoding="utf-8")
    return path


def test_workers_build_the_same_hub_as_one_process(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # "generated" comes from the newest source file
    manifest = _hub_yaml(tmp_path, _models(tmp_path, 24, shared=6))
    one = build_hub(manifest, tmp_path / "one", workers=1)
    two = build_hub(manifest, tmp_path / "two", workers=2)
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")  # index, sums, manifests, blobs, every page
    assert len([p for p in _tree(tmp_path / "two") if p.startswith("models/") and p.endswith("index.html")]) == 24
    assert (one.versions_new, one.files, one.bytes_total) == (two.versions_new, two.files, two.bytes_total) == \
        (24, 24 * 4, one.bytes_total)
    assert one.bytes_new == two.bytes_new == sum(p.stat().st_size for p in (tmp_path / "two/blobs").rglob("*")
                                                 if p.is_file())
    assert two.bytes_new + two.bytes_reused == one.bytes_new + one.bytes_reused
    assert two.bytes_reused > 0  # the shared folders' blobs were written once, by whichever worker came first
    # the workers' hash cache entries reached the build's cache: a rebuild reads and writes nothing
    rebuilt = build_hub(manifest, tmp_path / "two", workers=2)
    assert rebuilt.bytes_hashed == 0 and rebuilt.versions_new == 0
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")


def test_a_failing_worker_leaves_the_published_hub_as_it_was(tmp_path):
    lines = _models(tmp_path, 4)
    manifest = _hub_yaml(tmp_path, lines)
    out = tmp_path / "hub"
    build_hub(manifest, out, workers=1)
    before = _tree(out)
    more = _models(tmp_path / "more", 20)
    more = [line.replace("model-", "more-").replace("path: src", "path: more/src") for line in more]
    broken = tmp_path / "more/src-13/m-dense-0.npy"  # changed after params.json recorded its sha256
    broken.write_bytes(broken.read_bytes()[:-4] + b"\0\0\0\0")
    _hub_yaml(tmp_path, lines + more)
    with pytest.raises(BuildError, match=r"src-13/m-dense-0\.npy: sha256 .* differs from .* in params\.json") as err:
        build_hub(manifest, out, workers=2)
    assert type(err.value.__cause__).__name__ == "_RemoteTraceback"  # raised in a worker, reported here
    assert _tree(out) == before  # no new blob, manifest or page of the chunks that did finish
    assert not (out / layout.BUILD_TMP_DIR).exists()


def test_progress_counts_every_byte_the_workers_hash(tmp_path):
    manifest = _hub_yaml(tmp_path, _models(tmp_path, 12))
    seen: list[tuple[int, int]] = []
    summary = build_hub(manifest, tmp_path / "hub", workers=2, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) >= 2 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (summary.bytes_total, summary.bytes_total) and summary.bytes_total > 0


def test_a_missing_folder_is_reported_by_its_worker(tmp_path):
    lines = _models(tmp_path, 10)
    manifest = _hub_yaml(tmp_path, [*lines, "  - {name: ghost, version: '1.0', path: nowhere}\n"])
    with pytest.raises(BuildError, match=r"hub_manifest\.yaml:\d+: models\[10\] \(ghost@1\.0\): pretrained folder "
                                         r".*nowhere does not exist"):
        build_hub(manifest, tmp_path / "hub", workers=2)
    assert not (tmp_path / "hub/index.json").exists()
    assert not [p for p in (tmp_path / "hub").rglob("*") if p.is_file() and p.name not in layout.PRIVATE_NAMES]


def test_model_pages_rendered_by_workers_are_those_rendered_here(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setattr(workers, "MIN_VERSIONS", 1)
    monkeypatch.setattr(render, "MIN_VERSIONS", 1)
    manifest = _hub_yaml(tmp_path, _models(tmp_path, 6))
    build_hub(manifest, tmp_path / "hub", workers=1)
    here = _tree(tmp_path / "hub")
    (tmp_path / "hub" / layout.SITE_PAGES_FILE).unlink()  # every page is stale again
    for page in (tmp_path / "hub/models").glob("*/index.html"):
        page.write_bytes(b"stale")
    build_hub(manifest, tmp_path / "hub", workers=2)  # nothing to publish: only the pages, in the workers
    assert _tree(tmp_path / "hub") == here


def test_a_large_rebuild_of_pages_only_uses_workers_by_default(tmp_path, monkeypatch):
    """Few new versions, every page stale (the templates changed): the pages still go to the workers."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    manifest = _hub_yaml(tmp_path, _models(tmp_path, 6))
    build_hub(manifest, tmp_path / "hub", workers=1)
    here = _tree(tmp_path / "hub")
    (tmp_path / "hub" / layout.SITE_PAGES_FILE).unlink()
    monkeypatch.setattr(workers, "MIN_VERSIONS", 4)
    monkeypatch.setattr(render, "MIN_VERSIONS", 4)
    monkeypatch.setattr(workers, "cores", lambda: 2)
    used = []
    real = workers.Workers.map_chunks
    monkeypatch.setattr(workers.Workers, "map_chunks", lambda self, *a, **k: used.append(a[1]) or real(self, *a, **k))
    build_hub(manifest, tmp_path / "hub")  # no new version: no workers for publishing, but 6 stale pages
    assert [sorted(names) for names in used] == [[f"model-{i:02d}" for i in range(6)]]
    assert _tree(tmp_path / "hub") == here


SCRIPT = """
from hubgen.build import build_hub
print("script ran")
summary = build_hub({manifest!r}, {out!r}, workers=2)
print("versions", summary.versions_new)
"""


def test_a_script_without_a_main_guard_builds_with_workers(tmp_path):
    """The workers are spawned without re-running the script that started them (no `__main__` guard here)."""
    manifest = _hub_yaml(tmp_path, _models(tmp_path, 5))
    script = tmp_path / "build_it.py"
    script.write_text(textwrap.dedent(SCRIPT.format(manifest=str(manifest), out=str(tmp_path / "hub"))))
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["script ran", "versions 5"]  # once: the workers did not run it again
    assert (tmp_path / "hub/index.json").is_file()


def test_hubgen_build_workers_option(tmp_path):
    manifest = _hub_yaml(tmp_path, _models(tmp_path, 3))
    hubgen = str(Path(sys.executable).with_name("hubgen"))
    run = subprocess.run([hubgen, "build", str(manifest), "--out", str(tmp_path / "hub"), "--workers", "2"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "versions: 3 (3 new)" in run.stdout
    bad = subprocess.run([hubgen, "build", str(manifest), "--out", str(tmp_path / "hub"), "--workers", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--workers: must be between 1 and 64" in bad.stderr


@pytest.mark.parametrize(("count", "parts", "sizes"), [(10, 3, [4, 3, 3]), (2, 8, [1, 1]), (0, 4, []), (8, 1, [8])])
def test_chunks_are_contiguous_and_near_equal(count, parts, sizes):
    items = list(range(count))
    cut = workers.chunks(items, parts)
    assert [len(c) for c in cut] == sizes
    assert [x for c in cut for x in c] == items


def test_workers_start_only_for_enough_work(monkeypatch):
    monkeypatch.setattr(workers, "cores", lambda: 2)
    assert workers.pool_for(workers.MIN_VERSIONS - 1, None) is None
    assert workers.pool_for(workers.MIN_VERSIONS, None).count == 2  # type: ignore[union-attr]
    assert workers.pool_for(5, 1) is None and workers.pool_for(5, 3).count == 3  # type: ignore[union-attr]
    monkeypatch.setattr(workers, "cores", lambda: 1)
    assert workers.pool_for(10 * workers.MIN_VERSIONS, None) is None  # one core: nothing to gain
    with pytest.raises(ValueError, match="workers must be at least 1"):
        workers.pool_for(5, 0)
