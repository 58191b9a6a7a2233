"""The hubgen CLI: build summary on stdout, known errors as one line and exit 1, tracebacks behind DCHUB_DEBUG."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hubgen.cli import COMMANDS, main
from hubgen.errors import ManifestError


def test_build_then_verify(hub_yaml, tmp_path, capsys):
    out = tmp_path / "hub"
    assert main(["build", str(hub_yaml), "--out", str(out), "--part-size", "1K"]) == 0
    printed = capsys.readouterr().out
    assert "models: 2, versions: 3 (3 new)" in printed and "new" in printed and "reused" in printed
    assert main(["build", str(hub_yaml), "-o", str(out), "--part-size", "1K"]) == 0
    assert "(0 new)" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0


def test_known_error_is_one_line(write_yaml, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DCHUB_DEBUG", raising=False)
    bad = write_yaml("name: h\nmodels:\n  - {name: 'a b', version: '1', path: x}\n")
    assert main(["build", str(bad), "--out", str(tmp_path / "hub")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"hubgen: error: {bad}:3: models[0].name: invalid model name")
    monkeypatch.setenv("DCHUB_DEBUG", "1")
    with pytest.raises(ManifestError):
        main(["build", str(bad), "--out", str(tmp_path / "hub")])


def test_console_script_and_default_manifest(hub_yaml, tmp_path):
    done = subprocess.run([sys.executable, "-c", "import sys; from hubgen.cli import main; sys.exit(main())",
                           "build", "--out", "hub"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "hub/index.json").is_file()
    assert COMMANDS[:2] == ("hubgen.cli.build", "hubgen.cli.verify")


def test_counts_are_pluralized_in_hubgens_messages():
    from dchub_client.humanize import counted

    assert (counted(1, "file"), counted(2, "file"), counted(0, "blob"), counted(1, "blob byte")) == \
        ("1 file", "2 files", "0 blobs", "1 blob byte")
    assert counted(2, "index", "indexes") == "2 indexes"


def test_options_are_taken_only_as_spelled(hub_yaml, tmp_path):
    """``--sign k`` once meant ``--sign-key k`` (argparse's abbreviations): an option is now refused unless
    spelled in full, by the command's own parser (its usage lists what it takes), which names the option
    meant, and nothing is built."""
    hubgen = str(Path(sys.executable).with_name("hubgen"))
    for args, said in [
        (("build", str(hub_yaml), "--sign", "k", "--out", "hub"),
         "unrecognized arguments: --sign k (--sign is not an option: did you mean --sign-key?)"),
        (("build", str(hub_yaml), "--o", "hub"),  # argparse's own error first: the required --out is missing
         "the following arguments are required: --out/-o (--o is not an option: did you mean --out?)"),
        (("verify", "hub", "--trusted", "k"),
         "unrecognized arguments: --trusted k (--trusted is not an option: did you mean --trusted-key?)"),
        (("--verbos", "verify", "hub"),  # the program's option, given before the command: hubgen's usage
         "unrecognized arguments: --verbos (--verbos is not an option: did you mean --verbose?)"),
    ]:
        done = subprocess.run([hubgen, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        prog = "hubgen" if args[0].startswith("-") else f"hubgen {args[0]}"
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith(f"usage: {prog} "), done.stderr
        assert done.stderr.endswith(f"{prog}: error: {said}\n"), done.stderr
        assert not (tmp_path / "hub").exists()
    bare = subprocess.run([hubgen], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bare.returncode == 2 and "build" in bare.stderr and "publish" in bare.stderr  # its help, every command
