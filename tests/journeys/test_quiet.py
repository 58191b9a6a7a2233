"""Journey (issue 13 item 8): quiet by default. The trusted-keys warning only when it matters, versions, and
the dchub command starting without numpy, requests or pooch for what does not need them."""
from __future__ import annotations

import functools
import os
import subprocess
import sys

from dchub_client import __version__, terminal
from tests._support.folders import make_folder
from tests._support.hubs import build_hub
from tests.journeys._cli import BIN, ok, run, run_on_terminal

HEAVY = ("numpy", "requests", "pooch", "urllib3", "yaml", "cryptography", "tqdm", "ssl", "http.client", "email",
         "urllib.request",
         "dataclasses", "inspect",  # the pull path's records are NamedTuples: a dataclass costs ~1 ms to build
         "platformdirs", "tempfile", "random",  # ~10 ms of start-up: dchub names its folders and temp files itself
         "shutil", "bz2", "lzma",  # ~2 ms: argparse's formatter asks shutil for the terminal's width (dchub does not)
         "base64", "datetime",  # ~3 ms: an unsigned hub's pull decodes no key or signature and reads no time
         "dchub_client.models.allowlist.registry")  # ~1.5 ms with its policies: consulted when a model is built


def test_versions():
    assert ok("--version").strip().startswith(f"dchub {__version__}")
    assert ok("hubgen", "--version").strip().startswith(f"hubgen {__version__}")


def test_an_unsigned_hub_gives_no_key_warning_and_a_signed_one_gives_one(tmp_path, keys, serve, monkeypatch):
    folder = make_folder(tmp_path / "src", seed=1)
    unsigned = build_hub(tmp_path, {("m", "1"): folder}, out="unsigned")
    signed = build_hub(tmp_path, {("m", "1"): folder}, out="signed", hub_name="signed-hub",
                       sign_keys=[keys["old"][0]])
    env = {"DEEPCHEM_MODEL_HUB": serve(unsigned).url}
    for args in (("ls",), ("pull", "-q", "m"), ("path", "m")):
        done = run(*args, env=env)
        assert done.returncode == 0 and done.stderr == "", (args, done.stderr)
    info = ok("info", "m", env=env)  # `dchub info` says it, once, in its report
    assert "signature: not signed: no trusted keys are configured for this hub" in info
    env = {"DEEPCHEM_MODEL_HUB": serve(signed).url, "DEEPCHEM_HUB_CACHE": str(tmp_path / "cache2")}
    done = run("pull", "-q", "m", env=env)
    assert done.returncode == 0
    assert done.stderr.count("\n") == 1 and "signed, but no trusted hub keys are configured" in done.stderr
    assert "signature: signed, but its signatures were not checked" in ok("info", "m", env=env)
    env["DEEPCHEM_HUB_TRUSTED_KEYS"] = str(keys["old"][1])
    done = run("pull", "-q", "m", env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert "signature: verified with the hub's trusted keys (index version 1, expires" in ok("info", "m", env=env)


_PROBE = """
import sys
from dchub_client.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("LOADED", *sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def _loaded(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1].split()[1:]


def test_a_progress_bar_is_drawn_on_a_terminal_only(tmp_path, serve):
    """pip and wget draw no bar into a log file or a pipe; neither does dchub (``-q`` silences it on a terminal)."""
    hub = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "src", seed=1, n_weights=3, size=50_000)})
    url = serve(hub).url
    unsized = functools.partial(run_on_terminal, columns=0)  # a new pseudo-terminal: tqdm alone would draw nothing
    cases = {"terminal": (run_on_terminal, ()), "terminal reporting no size": (unsized, ()),
             "terminal, -q": (run_on_terminal, ("-q",)), "pipe": (run, ())}
    for i, (case, (runner, quiet)) in enumerate(cases.items()):
        env = {"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_CACHE": str(tmp_path / f"c{i}")}
        done = runner("pull", *quiet, "m", env=env)
        assert done.returncode == 0 and done.stdout.strip().endswith("m/1"), (case, done.stdout, done.stderr)
        drawn = "m@1" in done.stderr and "100%" in done.stderr
        assert drawn == (case.startswith("terminal") and "-q" not in case), (case, done.stderr)
        assert drawn or done.stderr == "", (case, done.stderr)


def test_the_command_imports_only_what_it_needs(tmp_path, serve, monkeypatch):
    assert _loaded("--version") == []
    hub = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "src", seed=1)})
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    assert _loaded("pull", "-q", "m") == []  # a cold pull over http: no ssl, no http.client, no urllib.request
    ok("ls")
    assert _loaded("pull", "-q", "m") == []  # a no-op pull: everything is cached
    assert _loaded("path", "m") == []
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    assert _loaded("ls") == []  # from the cache


TORCH_RECIPE = """
import numpy as np
from dchub_client.format.pretrained import write_pretrained
def make(output_dir):
    import torch._dynamo  # as recipes import DeepChem: inside the run; torch makes its log handlers now
    write_pretrained(output_dir, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={}, weights=[("w-0", "w", np.arange(4, dtype=np.float32))])
"""


def test_parallel_recipes_that_import_torch_leave_no_logging_errors(tmp_path):
    """Recipe workers import torch inside the quieted block; at their exit torch's handlers must neither
    hit a closed stream ("--- Logging error ---") nor print its INFO statistics."""
    (tmp_path / "torch_recipes.py").write_text(TORCH_RECIPE)
    models = "".join(f"  - {{name: m{i}, version: '1', path: made/m{i}, recipe: 'torch_recipes:make'}}\n"
                     for i in range(2))
    (tmp_path / "hub_manifest.yaml").write_text("name: h\nmodels:\n" + models)
    done = subprocess.run([str(BIN / "hubgen"), "build", str(tmp_path / "hub_manifest.yaml"), "--out", str(tmp_path / "hub"), "--jobs", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "running recipe torch_recipes:make" in done.stderr  # hubgen's own lines still show
    for i in range(2):  # and name the folder each recipe's model ended up in, not only its temp folder
        assert f"m{i}@1: recipe done: {tmp_path / 'made' / f'm{i}'}" in done.stderr, done.stderr
    assert "Logging error" not in done.stderr and "TorchDynamo" not in done.stderr, done.stderr


def test_a_command_ends_with_its_output_written_or_says_it_was_not(tmp_path):
    """The hub client's commands end without the interpreter's teardown; what they print is written first,
    and output that cannot be written (a full disk) makes the exit code 120, as Python's own exit does, with
    one line saying so (hubgen's too: no traceback)."""
    listing = tmp_path / "listing.txt"
    with listing.open("w") as out:
        assert subprocess.run([str(BIN / "dchub"), "cache", "ls"], stdout=out, timeout=120).returncode == 0
    assert listing.read_text().startswith("cache: ") and "NAME" in listing.read_text()
    hub = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "src", seed=1)})
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # written at exit, then
    for command in (("dchub", "cache", "ls"), ("hubgen", "verify", str(hub))):
        with open("/dev/full", "w") as full:
            done = subprocess.run([str(BIN / command[0]), *command[1:]], stdout=full, stderr=subprocess.PIPE,
                                  text=True, env=buffered, timeout=120)
        assert (done.returncode, done.stderr) == (
            120, f"{command[0]}: error: could not write the output: [Errno 28] No space left on device\n")


def test_a_reader_that_stops_reading_ends_a_command_quietly(tmp_path):
    """``dchub ls | head -1``: the reader goes away before the command has written everything. The command
    ends with exit code 1 and prints nothing (no "BrokenPipeError", no traceback), whether Python buffers
    stdout or not (PYTHONUNBUFFERED, as in containers and CI)."""
    hub = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "src", seed=1)})
    commands = [("dchub", "ls"), ("dchub", "info", "m"), ("dchub", "cache", "ls"), ("hubgen", "verify", str(hub))]
    for unbuffered in ("1", None):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        env.update({"DEEPCHEM_MODEL_HUB": str(hub), **({"PYTHONUNBUFFERED": unbuffered} if unbuffered else {})})
        for command in commands:
            read_end, write_end = os.pipe()
            os.close(read_end)  # the reader is gone before the first line is written
            try:
                done = subprocess.run([str(BIN / command[0]), *command[1:]], stdout=write_end, stderr=subprocess.PIPE,
                                      text=True, env=env, timeout=120)
            finally:
                os.close(write_end)
            assert (done.returncode, done.stderr) == (1, ""), (command, unbuffered, done.stderr)
    listing = ok("ls", env={"DEEPCHEM_MODEL_HUB": str(hub)})  # with a reader: the listing, exit 0
    assert any(line.split()[:2] == ["m", "1"] for line in listing.splitlines()), listing


def test_a_broken_connection_is_not_a_reader_gone(monkeypatch):
    """Only a BrokenPipeError while stdout's reader is gone ends a command quietly (the rest of the output is
    dropped); the same error from a mirror's connection, with stdout still read, is reported."""
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        assert not terminal.output_closed(BrokenPipeError(32, "Broken pipe"))  # the reader is there
        assert not terminal.output_closed(ConnectionResetError(104, "Connection reset by peer"))
        reader.close()
        assert terminal.output_closed(BrokenPipeError(32, "Broken pipe"))
        stdout.write("the rest\n")  # dropped: stdout now writes to the null device
        stdout.flush()
        assert not terminal.output_closed(OSError(28, "No space left on device"))
        monkeypatch.undo()


def test_saving_a_pipeline_prints_nothing_of_its_own(tmp_path):
    """to_pretrained(featurizer=...) featurizes a few probe molecules to check the featurizer rebuilds the same;
    RDKit's notes about those calls (CircularFingerprint: 'DEPRECATION WARNING: please use MorganGenerator')
    are not the user's doing and are not printed; the user's own featurizing still is."""
    code = ("import sys, dchub_client, deepchem as dc\n"
            "f = dc.feat.CircularFingerprint(size=64)\n"
            "model = dc.models.MultitaskRegressor(1, 64, layer_sizes=[8])\n"
            "print('SAVING', file=sys.stderr, flush=True)\n"
            "dchub_client.to_pretrained(model, sys.argv[1], featurizer=f)\n"
            "print('SAVED', file=sys.stderr, flush=True)\n"
            "f.featurize(['CCO'])\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True,
                          env={**os.environ, "TF_USE_LEGACY_KERAS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr
    during = done.stderr.split("SAVING", 1)[1].split("SAVED", 1)[0]
    assert during.strip() == "", during
    assert "MorganGenerator" in done.stderr.split("SAVED", 1)[1]  # RDKit does say it for the user's own call
