"""The pretrained folder format: writing, reading, and every kind of bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dchub_client import errors
from dchub_client.format import pretrained
from tests._support.folders import load_weights, validate_folder


def _write(folder: Path, **overrides) -> pretrained.PretrainedInfo:
    rng = np.random.default_rng(0)
    weights = [("m-dense-0", "dense.weight", rng.standard_normal((4, 3)).astype(np.float32)),
               ("m-dense-1", "dense.bias", np.arange(4, dtype=np.float64)),
               ("m-tree-0", "tree.nodes", np.zeros(3, dtype=[("left", "<i8"), ("threshold", "<f8")]))]
    options = dict(class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                   parameters={"n_tasks": 1}, weights=weights)
    options.update(overrides)
    return pretrained.write_pretrained(folder, **options)


def _params(folder: Path) -> dict:
    return json.loads((folder / "params.json").read_text())


def _rewrite(folder: Path, change) -> None:
    data = _params(folder)
    change(data)
    (folder / "params.json").write_text(json.dumps(data))


def test_round_trip_of_plain_and_structured_arrays(tmp_path: Path) -> None:
    info = _write(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "m-dense-0.npy", "m-dense-1.npy", "m-tree-0.npy", "params.json"]
    read = validate_folder(tmp_path / "m")
    assert read.weights == info.weights
    arrays = load_weights(tmp_path / "m")
    assert arrays["m-dense-1"].dtype == np.float64 and arrays["m-tree-0"].dtype.names == ("left", "threshold")
    np.testing.assert_array_equal(arrays["m-dense-1"], np.arange(4))


def test_sha256_in_params_is_the_files_hash(tmp_path: Path) -> None:
    import hashlib

    _write(tmp_path / "m")
    entry = _params(tmp_path / "m")["weights"]["m-dense-0"]
    assert entry["sha256"] == hashlib.sha256((tmp_path / "m" / "m-dense-0.npy").read_bytes()).hexdigest()
    assert entry["key"] == "dense.weight" and entry["shape"] == [4, 3] and entry["dtype"] == "<f4"


def test_existing_folder_is_refused_unless_overwrite_and_never_half_replaced(tmp_path: Path) -> None:
    _write(tmp_path / "m")
    before = (tmp_path / "m" / "params.json").read_bytes()
    with pytest.raises(FileExistsError, match="not empty"):
        _write(tmp_path / "m", parameters={"n_tasks": 2})
    assert (tmp_path / "m" / "params.json").read_bytes() == before
    bad = [("m-x-0", "", np.array([object()], dtype=object))]
    with pytest.raises(errors.WeightFileError, match="object arrays"):
        _write(tmp_path / "m", weights=bad, overwrite=True)
    assert (tmp_path / "m" / "params.json").read_bytes() == before, "a failed overwrite keeps the old folder"
    assert [p.name for p in tmp_path.iterdir()] == ["m"], "no temp folder is left behind"
    _write(tmp_path / "m", parameters={"n_tasks": 2}, overwrite=True)
    assert _params(tmp_path / "m")["parameters"] == {"n_tasks": 2}


def test_overwrite_replaces_a_pretrained_folder_only(tmp_path: Path, monkeypatch) -> None:
    notes = tmp_path / "project"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"project: not a pretrained folder \(no params.json; it holds notes.txt"):
        _write(notes, overwrite=True)
    assert (notes / "notes.txt").read_text() == "mine" and [p.name for p in notes.iterdir()] == ["notes.txt"]
    _write(tmp_path / "m")
    monkeypatch.chdir(tmp_path / "m")  # a save over the folder one is in (was: EBUSY, and a '..x.old' left)
    before = sorted(p.name for p in tmp_path.iterdir())
    for target in (".", tmp_path / "m", tmp_path):
        with pytest.raises(FileExistsError, match="refusing to replace the current working folder|not a pretrained"):
            _write(Path(target), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before and (tmp_path / "m" / "params.json").is_file()
    assert not list((tmp_path / "m").glob(".*")), "no temp folder is left behind"


def test_a_path_through_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError, match=f"{tmp_path}/afile/sub: cannot create it: {tmp_path}/afile is a file"):
        _write(tmp_path / "afile" / "sub")
    _write(tmp_path / "m")
    with pytest.raises(errors.MissingParamsError, match=rf"m/params.json: a file, not a folder: give the pretrained "
                                                         rf"folder that holds params.json \({tmp_path}/m\)"):
        pretrained.read_params(tmp_path / "m" / "params.json")
    with pytest.raises(errors.MissingParamsError, match="afile: a file, not a folder"):
        pretrained.read_params(tmp_path / "afile")


def test_a_full_disk_while_writing_weights_keeps_the_old_folder(tmp_path: Path, monkeypatch) -> None:
    """The weights are written one after the other (largest first) while their hashes run on helper threads;
    a write that fails (here the second, as on a full disk) stops the save with the system's error, no later
    weight is written, and the folder being replaced is untouched."""
    _write(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    real, written = pretrained._write_bytes, []

    def fail_second(path: Path, header: bytes, data: memoryview) -> None:
        if written:
            raise OSError(28, "No space left on device", str(path))
        written.append(path.name)
        real(path, header, data)

    monkeypatch.setattr(pretrained, "_write_bytes", fail_second)
    with pytest.raises(OSError, match="No space left on device"):
        _write(tmp_path / "m", overwrite=True)
    assert written == ["m-dense-0.npy"], "one of the two largest (48 bytes, the first given) is written first"
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"], "no temp folder is left behind"


@pytest.mark.parametrize("name", ["a/b", "a\\b", "..", ".hidden", "", "x" * 201, "a b", "CON", "é"])
def test_weight_names_must_be_portable_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(errors.InvalidWeightNameError):
        _write(tmp_path / "m", weights=[(name, "", np.zeros(1))])
    assert not (tmp_path / "m").exists()


def test_missing_params_json(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.MissingParamsError, match="params.json"):
        pretrained.read_params(tmp_path / "empty")


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[]", "top level must be a JSON object"),
    ('{"a": 1, "a": 2}', "duplicate key"),
    ('{"x": NaN}', "NaN is not valid JSON"),
    (b"\xff\xfe".decode("latin-1"), "not valid JSON"),
])
def test_malformed_params_json(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path / "m")
    (tmp_path / "m" / "params.json").write_text(text, encoding="latin-1")
    with pytest.raises(errors.PretrainedFormatError, match=message) as info:
        pretrained.read_params(tmp_path / "m")
    assert "params.json" in str(info.value)


@pytest.mark.parametrize("change, error, message", [
    (lambda d: d.update(format_version="2.0"), errors.UnsupportedFormatVersionError, "2.0 is not supported"),
    (lambda d: d.update(format="other"), errors.PretrainedFormatError, "'format' must be"),
    (lambda d: d.pop("class"), errors.PretrainedFormatError, "missing required key 'class'"),
    (lambda d: d.update({"class": "os;system"}), errors.PretrainedFormatError, "dotted Python name"),
    (lambda d: d.update(weights=[]), errors.PretrainedFormatError, "'weights' must be a JSON dict"),
    (lambda d: d["weights"]["m-dense-0"].update(file="../../etc/passwd"), errors.PretrainedFormatError,
     "'file' must be 'm-dense-0.npy'"),
    (lambda d: d["weights"].update({"../x": d["weights"].pop("m-dense-0")}), errors.PretrainedFormatError,
     "invalid weight name"),
    (lambda d: d["weights"]["m-dense-0"].update(dtype="|O"), errors.PretrainedFormatError, "object dtypes"),
    (lambda d: d["weights"]["m-dense-0"].update(dtype="nonsense"), errors.PretrainedFormatError,
     "unreadable dtype"),
    (lambda d: d["weights"]["m-dense-0"].update(shape=[-1]), errors.PretrainedFormatError, "non-negative"),
    (lambda d: d["weights"]["m-dense-0"].update(shape=[10**9] * 3), errors.PretrainedFormatError,
     "implausibly large"),
    (lambda d: d["weights"]["m-dense-0"].update(sha256="abc"), errors.PretrainedFormatError, "64 lower-case hex"),
])
def test_invalid_fields_are_named(tmp_path: Path, change, error, message) -> None:
    _write(tmp_path / "m")
    _rewrite(tmp_path / "m", change)
    with pytest.raises(error, match=message):
        pretrained.read_params(tmp_path / "m")


def test_missing_extra_truncated_and_mismatched_weight_files(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _write(folder)
    shutil.copy(folder / "m-dense-0.npy", folder / "stray.npy")
    with pytest.raises(errors.WeightFileError, match="not listed in params.json: stray.npy"):
        validate_folder(folder)
    (folder / "stray.npy").unlink()

    data = (folder / "m-dense-0.npy").read_bytes()
    (folder / "m-dense-0.npy").write_bytes(data[:-4])
    with pytest.raises(errors.WeightFileError, match="truncated") as info:
        validate_folder(folder)
    assert info.value.path == folder / "m-dense-0.npy" and info.value.weight == "m-dense-0"

    np.save(folder / "m-dense-0.npy", np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(errors.WeightFileError, match=r"holds <f4\[3, 4\] but params.json says <f4\[4, 3\]"):
        validate_folder(folder)

    np.save(folder / "m-dense-0.npy", np.zeros((4, 3), dtype=np.float64))
    with pytest.raises(errors.WeightFileError, match="<f8"):
        validate_folder(folder)

    np.save(folder / "m-dense-0.npy", np.array([None] * 12, dtype=object).reshape(4, 3), allow_pickle=True)
    with pytest.raises(errors.WeightFileError, match="object arrays are refused"):
        validate_folder(folder)

    (folder / "m-dense-0.npy").unlink()
    with pytest.raises(errors.WeightFileError, match="missing"):
        validate_folder(folder)


def _npy(header: str, data: bytes, version: int = 1) -> bytes:
    """A .npy file with a hand-written header dict (padded as numpy pads, to a multiple of 64 bytes)."""
    size = 2 if version == 1 else 4
    body = header.encode("latin1")
    pad = -(6 + 2 + size + len(body) + 1) % 64
    return (b"\x93NUMPY" + bytes([version, 0]) + (len(body) + pad + 1).to_bytes(size, "little") + body
            + b" " * pad + b"\n" + data)


_PLAIN = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }"
#: A version 2 header whose first 4096 bytes end like a whole one (newline at byte 4095), junk after.
_LONG = _PLAIN + " " * (4096 - 12 - len(_PLAIN) - 1) + "\n" + "x" * 1000


@pytest.mark.parametrize(("header", "version", "expected"), [
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 1, "ok"),  # numpy's own form
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 2, "ok"),  # a version 2 header
    ("{'shape': (4, 3), 'fortran_order': False, 'descr': '<f4'}", 1, "ok"),  # other order: numpy's parser
    ("{'descr': '<f4', 'fortran_order': True, 'shape': (4, 3), }", 1, "fortran"),
    ("{'descr': '>f4', 'fortran_order': False, 'shape': (4, 3), }", 1, r"holds >f4\[4, 3\]"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 1, r"holds <f4\[3, 4\]"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (12,), }", 1, r"holds <f4\[12\]"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (4, 3), }", 1, "object arrays are refused"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), 'x': __import__('os')}", 1, "not a valid .npy"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), } junk", 1, "not a valid .npy"),
    (_LONG, 2, "not a valid .npy"),  # longer than the first read, its start well-formed: numpy reads it all
])
def test_weight_headers_are_judged_as_numpy_judges_them(tmp_path: Path, header: str, version: int,
                                                         expected: str) -> None:
    """Headers in numpy's own form are read without evaluating them; any other form goes through
    numpy's parser, with the same verdict and the same error messages."""
    folder = tmp_path / "m"
    info = _write(folder)
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    order = "F" if expected == "fortran" else "C"
    (folder / "m-dense-0.npy").write_bytes(_npy(header, values.tobytes(order=order), version))
    entry = info.weights["m-dense-0"]
    if expected in ("ok", "fortran"):
        offset, fortran = pretrained.read_header(folder / entry.file, entry)
        assert offset % 64 == 0 and fortran is (expected == "fortran")
        np.testing.assert_array_equal(pretrained.WeightReader(folder, entry, verify=False).load(), values)
        return
    with pytest.raises(errors.WeightFileError, match=expected) as caught:
        pretrained.read_header(folder / entry.file, entry)
    assert caught.value.path == folder / "m-dense-0.npy"


def test_a_weight_that_is_not_npy_is_refused_without_quoting_its_bytes(tmp_path: Path) -> None:
    """A weight that is another file (a link to a system file, a text file) is named as not a .npy file; the
    message never shows its first bytes (numpy's own message quotes them: ``got b'root:x'``)."""
    folder = tmp_path / "m"
    info = _write(folder)
    secret = tmp_path / "passwd"
    secret.write_text("s3cr3t:x:0:0:s3cr3t:/s3cr3t:/bin/bash\n" * 400)
    (folder / "m-dense-0.npy").unlink()
    (folder / "m-dense-0.npy").symlink_to(secret)
    entry = info.weights["m-dense-0"]
    with pytest.raises(errors.WeightFileError, match="not a .npy file") as caught:
        pretrained.WeightReader(folder, entry)
    assert "s3cr3t" not in str(caught.value) and caught.value.path == folder / "m-dense-0.npy"


def test_checksum_mismatch_is_detected_on_every_read_path(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    info = _write(folder)
    raw = bytearray((folder / "m-dense-0.npy").read_bytes())
    raw[-1] ^= 0xFF
    (folder / "m-dense-0.npy").write_bytes(bytes(raw))
    with pytest.raises(errors.ChecksumError, match="sha256 mismatch") as caught:
        validate_folder(folder)
    assert caught.value.expected == info.weights["m-dense-0"].sha256
    reader = pretrained.WeightReader(folder, info.weights["m-dense-0"])
    with pytest.raises(errors.ChecksumError):
        reader.read_into(np.empty((4, 3), dtype=np.float32))
    with pytest.raises(errors.ChecksumError):
        reader.load()
    assert pretrained.WeightReader(folder, info.weights["m-dense-0"], verify=False).load().shape == (4, 3)


def test_reader_fills_live_buffers_directly(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    info = _write(folder)
    out = np.empty((4, 3), dtype=np.float32)
    pretrained.WeightReader(folder, info.weights["m-dense-0"]).read_into(out)
    np.testing.assert_array_equal(out, np.load(folder / "m-dense-0.npy"))
    fortran = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(4, 3))
    _write(tmp_path / "f", weights=[("m-f-0", "", fortran)])
    entry = pretrained.read_params(tmp_path / "f").weights["m-f-0"]
    pretrained.WeightReader(tmp_path / "f", entry).read_into(out)
    np.testing.assert_array_equal(out, fortran)


def test_large_weights_are_hashed_beside_the_read_and_still_checked(tmp_path: Path) -> None:
    """Weights of THREADED_MIN_BYTES and more are hashed on a helper thread while the next chunk is
    read: the values land, a changed last byte is still caught, and no helper thread is left behind."""
    import threading

    from dchub_client.format.hashing import THREADED_MIN_BYTES

    rows = THREADED_MIN_BYTES // (4 * 1024) + 3  # over the threshold, not a whole number of chunks
    big = np.random.default_rng(0).standard_normal((rows, 1024)).astype(np.float32)
    info = _write(tmp_path / "m", weights=[("m-big-0", "", big)])
    entry = info.weights["m-big-0"]
    out = np.empty_like(big)
    pretrained.WeightReader(tmp_path / "m", entry).read_into(out)
    np.testing.assert_array_equal(out, big)
    with open(tmp_path / "m" / entry.file, "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 0x01]))
    with pytest.raises(errors.ChecksumError, match="sha256 mismatch"):
        pretrained.WeightReader(tmp_path / "m", entry).read_into(out)
    reader = pretrained.WeightReader(tmp_path / "m", entry)  # the file shrinks after its header was checked
    with open(tmp_path / "m" / entry.file, "r+b") as handle:
        handle.truncate(handle.seek(0, 2) - 100)
    with pytest.raises(errors.WeightFileError, match="truncated"):
        reader.read_into(out)
    assert not [t for t in threading.enumerate() if t.name == "dchub-sha256"]


def test_side_files_cannot_shadow_format_files(tmp_path: Path) -> None:
    for bad in ["params.json", "x.npy", "../card.md", ".hidden"]:
        with pytest.raises(errors.PretrainedFormatError):
            _write(tmp_path / "m", files={bad: b"x"})
    _write(tmp_path / "m", files={"README.md": b"# card"})
    assert (tmp_path / "m" / "README.md").read_bytes() == b"# card"


def test_two_writers_of_one_folder_never_silently_replace_each_other(tmp_path: Path) -> None:
    from dchub_client.format.atomic import atomic_folder

    target = tmp_path / "m"
    with pytest.raises(FileExistsError, match="filled by someone else"):
        with atomic_folder(target) as first:
            (first / "a").write_text("A")
            with atomic_folder(target) as second:  # started before the first one finished
                (second / "b").write_text("B")
    assert sorted(p.name for p in target.iterdir()) == ["b"], "the first finisher's folder is kept whole"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
