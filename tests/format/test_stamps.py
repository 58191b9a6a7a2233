"""Notes of weight files verified before (``dchub_client.format.stamps``): a file is trusted again only while
its device, inode, size, mtime and ctime are what they were when its bytes were hashed."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from dchub_client.errors import ChecksumError
from dchub_client.format import pretrained, stamps
from tests._support.folders import make_folder


@pytest.fixture()
def no_race(monkeypatch):
    """Files just written may be noted (the real rule waits two seconds: see test_a_file_just_written_...)."""
    monkeypatch.setattr(stamps, "RACY_SECONDS", 0.0)


def _load_all(folder: Path, notes: stamps.Stamps | None, *, into: bool = True) -> dict[str, np.ndarray]:
    """Every weight through a verifying reader (into a fresh array, or as ``load()``), then the notes saved."""
    info = pretrained.read_params(folder)
    out = {}
    for name, entry in info.weights.items():
        reader = pretrained.WeightReader(folder, entry, verify=True, stamps=notes)
        if into:
            out[name] = np.empty(entry.shape, entry.dtype)
            reader.read_into(out[name])
        else:
            out[name] = reader.load()
    if notes is not None:
        notes.save()
    return out


def _flip_last_byte(path: Path) -> None:
    """Change one byte in place (same file, same size): only the times say it changed."""
    with open(path, "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 1]))


@pytest.fixture()
def hashes(monkeypatch) -> list[str]:
    """The weight files readers decide to hash from now on (their names, in order)."""
    seen: list[str] = []
    must_hash = pretrained.WeightReader._must_hash

    def spy(self, st):
        decided = must_hash(self, st)
        if decided:
            seen.append(self.entry.file)
        return decided

    monkeypatch.setattr(pretrained.WeightReader, "_must_hash", spy)
    return seen


@pytest.mark.parametrize("into", [True, False], ids=["read_into", "load"])
def test_a_folder_verified_once_is_not_hashed_again_until_a_file_changes(tmp_path, no_race, hashes, into) -> None:
    folder = make_folder(tmp_path / "m", n_weights=3)
    first = _load_all(folder, stamps.Stamps.of(folder), into=into)
    assert len(hashes) == 3
    again = _load_all(folder, stamps.Stamps.of(folder), into=into)  # a new process would read the same notes
    assert len(hashes) == 3, "nothing hashed a second time"
    assert all(np.array_equal(first[n], again[n]) for n in first)
    changed = folder / "toy-dense.1-0.npy"
    _flip_last_byte(changed)
    with pytest.raises(ChecksumError, match="toy-dense.1-0.npy: sha256 mismatch"):
        _load_all(folder, stamps.Stamps.of(folder), into=into)
    assert hashes[3:] == ["toy-dense.1-0.npy"], "only the file that changed"


def test_setting_the_mtime_back_does_not_hide_an_edit(tmp_path, no_race) -> None:
    folder = make_folder(tmp_path / "m")
    _load_all(folder, stamps.Stamps.of(folder))
    target = folder / "toy-dense.0-0.npy"
    before = target.stat()
    _flip_last_byte(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime: the ctime moved
    assert target.stat().st_mtime_ns == before.st_mtime_ns and target.stat().st_size == before.st_size
    with pytest.raises(ChecksumError, match="toy-dense.0-0.npy"):
        _load_all(folder, stamps.Stamps.of(folder))


def test_a_file_replaced_by_another_is_hashed(tmp_path, no_race) -> None:
    folder = make_folder(tmp_path / "m")
    _load_all(folder, stamps.Stamps.of(folder))
    target = folder / "toy-dense.0-0.npy"
    forged = bytearray(target.read_bytes())
    forged[-1] ^= 1
    (folder / "swap").write_bytes(bytes(forged))
    os.replace(folder / "swap", target)  # a new inode under the old name
    with pytest.raises(ChecksumError, match="toy-dense.0-0.npy"):
        _load_all(folder, stamps.Stamps.of(folder))


@pytest.mark.parametrize("how", ["read_into", "load", "load(mmap=True)"])
def test_a_file_swapped_just_after_its_check_is_not_the_one_read(tmp_path, monkeypatch, no_race, how) -> None:
    """The race a note opens: the file is checked (noted, unchanged), then replaced before it is read. The
    reader checks, hashes and reads one open descriptor, so the bytes it returns are the checked file's."""
    folder = make_folder(tmp_path / "m", n_weights=1)
    stored = _load_all(folder, stamps.Stamps.of(folder))
    target = folder / "toy-dense.0-0.npy"
    forged = bytearray(target.read_bytes())
    forged[-4:] = np.float32(1e6).tobytes()
    known = stamps.Stamps.known

    def swap_after_check(self, name, st, sha256):
        answer = known(self, name, st, sha256)
        (folder / "swap").write_bytes(bytes(forged))
        os.replace(folder / "swap", target)  # a new file under the old name, right after the check
        return answer

    monkeypatch.setattr(stamps.Stamps, "known", swap_after_check)
    entry = pretrained.read_params(folder).weights["toy-dense.0-0"]
    reader = pretrained.WeightReader(folder, entry, verify=True, stamps=stamps.Stamps.of(folder))
    if how == "read_into":
        got = np.empty(entry.shape, entry.dtype)
        reader.read_into(got)
    else:
        got = np.array(reader.load(mmap=how.endswith("True)")))
    np.testing.assert_array_equal(got, stored["toy-dense.0-0"])
    assert np.load(target)[-1] == np.float32(1e6)  # the swap happened; a new check of the path would see it
    monkeypatch.setattr(stamps.Stamps, "known", known)
    with pytest.raises(ChecksumError, match="toy-dense.0-0.npy"):
        _load_all(folder, stamps.Stamps.of(folder), into=False)


def test_a_new_expected_sha256_is_not_covered_by_an_old_note(tmp_path, no_race, hashes) -> None:
    folder = make_folder(tmp_path / "m")
    notes = stamps.Stamps.of(folder)
    _load_all(folder, notes)
    entry = next(iter(pretrained.read_params(folder).weights.values()))
    st = os.stat(folder / entry.file)
    assert notes.known(entry.file, st, entry.sha256)
    assert not notes.known(entry.file, st, "0" * 64)


def test_a_file_just_written_is_not_noted(tmp_path, hashes) -> None:
    """The real rule: a file changed within RACY_SECONDS of its check could change again unseen."""
    folder = make_folder(tmp_path / "m")
    notes = stamps.Stamps.of(folder)
    _load_all(folder, notes)
    assert not notes.record.exists()
    _load_all(folder, stamps.Stamps.of(folder))
    assert len(hashes) == 4  # hashed both times


def test_notes_live_in_the_users_cache_private(tmp_path, isolated_environment, no_race) -> None:
    folder = make_folder(tmp_path / "m")
    notes = stamps.Stamps.of(folder)
    _load_all(folder, notes)
    assert notes.record.parent == isolated_environment / stamps.FOLDER
    assert notes.record.stat().st_mode & 0o777 == 0o600
    data = json.loads(notes.record.read_text())
    assert data["folder"] == os.path.realpath(folder)
    assert sorted(data["files"]) == ["toy-dense.0-0.npy", "toy-dense.1-0.npy"]
    assert not any(p.name.startswith(".") or "verified" in p.name for p in folder.iterdir()), "nothing in the folder"


@pytest.mark.parametrize("record", [b"{not json", b'{"version": 1, "folder": "/elsewhere", "files": {}}',
                                    b'{"version": 1, "folder": "FOLDER", "files": {"toy-dense.0-0.npy": [1, 2]}}',
                                    b'{"version": 99, "folder": "FOLDER", "files": {}}'])
def test_a_bad_or_foreign_record_trusts_nothing(tmp_path, no_race, hashes, record) -> None:
    folder = make_folder(tmp_path / "m")
    notes = stamps.Stamps.of(folder)
    notes.record.parent.mkdir(parents=True)
    notes.record.write_bytes(record.replace(b"FOLDER", os.fsencode(notes.folder)))
    _load_all(folder, stamps.Stamps.of(folder))
    assert len(hashes) == 2
    assert json.loads(notes.record.read_text())["version"] == 1  # rewritten whole


def test_a_cache_that_cannot_be_written_costs_only_a_hash(tmp_path, monkeypatch, no_race, hashes) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(tmp_path / "a-file" / "cache"))
    folder = make_folder(tmp_path / "m")
    _load_all(folder, stamps.Stamps.of(folder))
    _load_all(folder, stamps.Stamps.of(folder))
    assert len(hashes) == 4


def test_forget_missing_removes_notes_of_folders_gone(tmp_path, no_race) -> None:
    kept, gone = make_folder(tmp_path / "kept"), make_folder(tmp_path / "gone", seed=1)
    for folder in (kept, gone):
        _load_all(folder, stamps.Stamps.of(folder))
    (stamps.Stamps.of(kept).record.parent / "junk.json").write_text("[")
    for path in gone.iterdir():
        path.unlink()
    gone.rmdir()
    assert stamps.forget_missing() == 2
    assert [p.name for p in stamps.Stamps.of(kept).record.parent.iterdir()] == [stamps.Stamps.of(kept).record.name]


def test_dchub_cache_prune_drops_the_notes_of_folders_gone(tmp_path, no_race) -> None:
    """The command a user runs to tidy the cache: ``dchub cache prune``, in a subprocess."""
    import shutil

    from tests.journeys._cli import run

    kept, gone = make_folder(tmp_path / "kept"), make_folder(tmp_path / "gone", seed=1)
    for folder in (kept, gone):
        _load_all(folder, stamps.Stamps.of(folder))
    stale = stamps.Stamps.of(kept).record.parent / ".half-written.json.tmp"
    stale.write_text("{")
    os.utime(stale, (0, 0))
    shutil.rmtree(gone)
    done = run("cache", "prune")
    assert done.returncode == 0 and "removed 2 files" in done.stdout, done
    assert [p.name for p in stamps.Stamps.of(kept).record.parent.iterdir()] == [stamps.Stamps.of(kept).record.name]
